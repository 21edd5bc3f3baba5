"""The ABC composer's entry points for people: a start and settings in; a tune to read, hear and download out.

`request_settings` checks what a request sent with the model's own `TuneSettings`
checks (at most MAX_CHARACTERS new characters per request); `compose_tune`
writes the tune, reads it with music21, renders audio and a piano roll and
measures what it copied; `compare` continues one start with every model and
reads each continuation back as surprisal per character. The Gradio tab is a
thin layer over these.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from models.char_lm import BOS, CharLmForCausalLM, TuneSettings

from ..errors import UnusableInputError, bounded_number
from ..lstm_composer.audio import Rendering
from .music import DEFAULT_PROGRAM, STEPS_PER_BEAT, read_abc
from .novelty import ShippedCorpus

MAX_CHARACTERS = 3000  # new characters per request
MAX_START_CHARACTERS = 2000
COMPARE_CHARACTERS = 300


class RequestSettings(TuneSettings):
    max_allowed = MAX_CHARACTERS


def request_settings(**values) -> RequestSettings:
    """The settings a request sent, checked; a bad one raises UnusableInputError with its message."""
    try:
        return RequestSettings(**values)
    except ValueError as error:
        raise UnusableInputError(str(error)) from None


def checked_start(model: CharLmForCausalLM, start) -> tuple[list[int], str]:
    """The start of a tune as ids (after <bos>), and a note on characters the model does not know (dropped)."""
    if start is None:
        start = ""
    if not isinstance(start, str):
        raise UnusableInputError("The start of the tune must be text.")
    if len(start) > MAX_START_CHARACTERS:
        raise UnusableInputError(f"The start of the tune has {len(start):,} characters; at most "
                                 f"{MAX_START_CHARACTERS:,} are accepted.")
    start = start.replace("\r\n", "\n")
    unknown = model.codec.unknown(start)
    note = (f"Characters this model never saw were left out of the start: {', '.join(map(repr, sorted(unknown)))}."
            if unknown else "")
    return [BOS, *model.codec.encode(start)], note


@dataclass
class ComposedTune:
    text: str  # the whole tune: the start and what the model wrote
    start: str
    ended: bool  # the model ended the tune itself (<eos>)
    playable: bool
    problem: str  # why music21 could not play it, when it could not
    midi: bytes | None = None
    rendering: Rendering | None = None
    roll: object = None  # a PIL image
    copy_share: float | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def compose_tune(model: CharLmForCausalLM, corpus: ShippedCorpus | None, settings: TuneSettings, *, start: str = "",
                 seed: int = 0, on_text=None) -> ComposedTune:
    """Write one tune after `start`; `on_text(text so far)` is called as it grows (every 32 characters)."""
    seed = bounded_number(seed, "Seed", 0, 2**31 - 1, integer=True)
    prompt, note = checked_start(model, start)
    start_text = model.codec.decode(prompt)

    def grown(new_ids):
        if on_text is not None:
            on_text(start_text + model.codec.decode(new_ids))

    started = time.perf_counter()
    new = model.generate_tune(prompt, settings=settings, seed=seed, callback=grown)[0]
    seconds = time.perf_counter() - started
    text = start_text + model.codec.decode(new)
    ended = bool(new) and new[-1] == model.config.eos_token_id
    piece = ComposedTune(text, start_text, ended, False, "", notes=[note] if note else [],
                         timings={"seconds": seconds, "characters": len(new),
                                  "characters_per_second": len(new) / max(seconds, 1e-9)})
    try:
        tune = read_abc(text)
    except UnusableInputError as error:
        piece.problem = str(error)
        return piece
    started = time.perf_counter()
    piece.playable = True
    piece.midi = tune.midi(DEFAULT_PROGRAM)
    piece.rendering = tune.render(DEFAULT_PROGRAM)
    piece.timings["render_seconds"] = time.perf_counter() - started
    prompt_steps = 0
    if start_text.strip() and "K:" in start_text and start_text.rstrip().split("\n")[-1][:2] not in ("K:", "T:"):
        try:
            prompt_steps = max(note.onset + note.duration for note in read_abc(start_text).notes)
        except UnusableInputError:
            prompt_steps = 0
    piece.roll = tune.piano_roll(prompt_steps)
    piece.copy_share = corpus.copies.copy_share(text) if corpus is not None else None
    return piece


def describe(piece: ComposedTune, strategy: str) -> str:
    """Markdown shown beside a tune: whether it plays, what it copied, how fast it was written."""
    lines = []
    if piece.playable:
        how = "ended by the model" if piece.ended else "stopped at the character limit, not ended by the model"
        lines.append(f"**Plays**: music21 read the tune ({how}).")
    else:
        lines.append(f"**Does not play**: {piece.problem} The text is shown as the model wrote it.")
    if piece.copy_share is not None:
        lines.append(f"**Copied from the training tunes**: {100 * piece.copy_share:.0f} % of its 8-note n-grams "
                     "(notes as written) occur in a training tune.")
    elif piece.playable:
        lines.append("**Copied**: not measured (fewer than 8 notes, or these weights ship no training tunes).")
    timing = piece.timings
    lines.append(f"**Timing**: {timing['characters']} characters ({strategy}) in {timing['seconds']:.2f} s "
                 f"({timing['characters_per_second']:.0f} characters/s)"
                 + (f"; audio rendered in {timing['render_seconds']:.2f} s by {piece.rendering.engine}."
                    if piece.rendering is not None else "."))
    if piece.rendering is not None and piece.rendering.note:
        lines.insert(0, f"**Note**: {piece.rendering.note}")
    lines += [f"**Note**: {note}" for note in piece.notes]
    return "\n\n".join(lines)


# ------------------------------------------------------------------ comparison
@dataclass
class Continuation:
    label: str
    text: str  # start + continuation
    start_length: int
    bits: list[float]  # surprisal of each character after <bos>, in bits
    seconds: float


def compare(models: dict[str, CharLmForCausalLM], start: str, settings: TuneSettings, seed: int = 0,
            characters: int = COMPARE_CHARACTERS) -> list[Continuation]:
    """The same start continued by each model (at most `characters` new ones, same settings and seed), and each
    continuation read back by the model that wrote it: how surprised it was by every character, start included."""
    seed = bounded_number(seed, "Seed", 0, 2**31 - 1, integer=True)
    settings = request_settings(strategy=settings.strategy, temperature=settings.temperature, top_k=settings.top_k,
                                top_p=settings.top_p, max_characters=min(characters, settings.max_characters))
    results = []
    for label, model in models.items():
        prompt, _ = checked_start(model, start)
        started = time.perf_counter()
        new = model.generate_tune(prompt, settings=settings, seed=seed)[0]
        seconds = time.perf_counter() - started
        ids = prompt + new
        bits = model.surprisal(ids)  # predicts ids[1:]: one value per character, and <eos> last when written
        results.append(Continuation(label, model.codec.decode(ids), len(prompt) - 1, bits[:len(ids) - 1], seconds))
    return results


def surprisal_html(continuation: Continuation, high: float = 8.0) -> str:
    """The text with a bar under each character, as tall and as red as the model's surprise (bits)."""
    cells = []
    text = continuation.text
    for index, character in enumerate(text):
        bits = continuation.bits[index] if index < len(continuation.bits) else 0.0
        height = max(1, round(16 * min(bits, high) / high))
        shown = "↵" if character == "\n" else html.escape(character)
        weight = "font-weight:600;" if index < continuation.start_length else ""
        cells.append(
            f'<span title="{html.escape(repr(character))}: {bits:.2f} bits" style="display:inline-flex;'
            f'flex-direction:column;align-items:center;width:0.62em;margin-bottom:2px;{weight}">'
            f'<span>{shown}</span><span style="display:block;width:100%;height:16px;position:relative">'
            f'<span style="position:absolute;bottom:0;left:0;right:0;height:{height}px;'
            f'background:rgb(230,{int(200 - 150 * min(bits, high) / high)},60)"></span></span></span>'
            + ("<br>" if character == "\n" else ""))
    start_bits = continuation.bits[:continuation.start_length]
    new_bits = continuation.bits[continuation.start_length:]
    summary = " · ".join(part for part in (
        f"start: {sum(start_bits) / len(start_bits):.2f} bits/char" if start_bits else "",
        f"its own continuation: {sum(new_bits) / len(new_bits):.2f} bits/char" if new_bits else "",
        f"{len(text) - continuation.start_length} characters in {continuation.seconds:.2f} s") if part)
    return (f'<div class="abc-surprisal"><b>{html.escape(continuation.label)}</b> — {summary}'
            f'<div style="font-family:monospace;line-height:1.1;margin:4px 0 12px 0">{"".join(cells)}</div></div>')


__all__ = ["request_settings", "compose_tune", "describe", "compare", "surprisal_html", "ComposedTune",
           "Continuation", "MAX_CHARACTERS", "STEPS_PER_BEAT"]

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

from transformers.generation.logits_process import (
    LogitsProcessorList,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
)

from models.char_lm import BOS, CharLmForCausalLM, TuneSettings

from ..errors import UnusableInputError, bounded_number
from ..lstm_composer.audio import Rendering, TimedRoll, timed_piano_roll
from .music import DEFAULT_PROGRAM, STEPS_PER_BEAT, PhraseLoop, longest_repetition, phrase_loop, read_abc
from .novelty import ShippedCorpus

MAX_CHARACTERS = 3000  # new characters per request
MAX_START_CHARACTERS = 2000
COMPARE_CHARACTERS = 300


MAX_REPETITION_PENALTY = 2.0
MIN_NGRAM, MAX_NGRAM = 4, 200  # characters; shorter n-grams soon forbid the bar lines and spaces every tune needs
# What greedy decoding starts with in the tab. Measured by bench/abc_greedy_loops.py on the six shipped models,
# greedy, at most 1,500 characters, from "T:" and two validation openings (18 tunes a setting; a loop is one phrase
# 10 or more times over 16 beats or more): no remedies: 13 loop, 2 end by themselves; penalty 1.2 alone: 10 loop,
# 6 end; no repeated 16, 24 or 32 characters alone: 2, 3 or 5 loop, 10, 8 or 7 end; penalty 1.1 or 1.2 with 24
# characters: 3 loop, 12 or 15 end; penalty 1.1 with 16 characters: 1 loops, 11 end; 1.2 with 16: 0 loop, 17 end.
DEFAULT_REMEDIES = {"repetition_penalty": 1.2, "no_repeat_ngram_size": 16}


@dataclass(frozen=True)
class RequestSettings(TuneSettings):
    """The model's `TuneSettings` as one web request may ask for them (at most MAX_CHARACTERS new characters),
    with transformers' remedies against loops for greedy decoding, applied as `generate` applies them: the
    logits pass `RepetitionPenaltyLogitsProcessor` (1 = off, at most MAX_REPETITION_PENALTY) and
    `NoRepeatNGramLogitsProcessor` (no n characters in a row twice; 0 = off, else MIN_NGRAM to MAX_NGRAM) before
    the argmax. The model's own `generate_tune` runs them (it runs whatever `processors()` returns), so its code
    stays as it travels; sampling leaves them off."""

    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    max_allowed = MAX_CHARACTERS

    def __post_init__(self):
        super().__post_init__()
        penalty = bounded_number(self.repetition_penalty, "Repetition penalty", 1.0, MAX_REPETITION_PENALTY)
        size = bounded_number(self.no_repeat_ngram_size, "No-repeat n-gram size", 0, MAX_NGRAM, integer=True)
        if 0 < size < MIN_NGRAM:
            raise UnusableInputError(f"No-repeat n-gram size must be 0 (off) or at least {MIN_NGRAM} characters, "
                                     f"got {size}: shorter ones soon forbid the bar lines every tune needs.")
        object.__setattr__(self, "repetition_penalty", penalty)  # frozen: the checked value replaces the given one
        object.__setattr__(self, "no_repeat_ngram_size", size)

    @property
    def remedied(self) -> bool:
        return self.strategy == "greedy" and (self.repetition_penalty != 1.0 or self.no_repeat_ngram_size > 0)

    def processors(self) -> LogitsProcessorList:
        processors = super().processors()
        if self.strategy == "greedy":
            if self.repetition_penalty != 1.0:
                processors.append(RepetitionPenaltyLogitsProcessor(penalty=float(self.repetition_penalty)))
            if self.no_repeat_ngram_size:
                processors.append(NoRepeatNGramLogitsProcessor(ngram_size=self.no_repeat_ngram_size))
        return processors

    def describe_remedies(self) -> str:
        parts = []
        if self.repetition_penalty != 1.0:
            parts.append(f"repetition penalty {self.repetition_penalty:g}")
        if self.no_repeat_ngram_size:
            parts.append(f"no repeated {self.no_repeat_ngram_size}-character n-grams")
        return " and ".join(parts) or "no remedies against loops"


def request_settings(**values) -> RequestSettings:
    """The settings a request sent, checked; a bad one raises UnusableInputError with its message."""
    try:
        return RequestSettings(**values)
    except ValueError as error:  # UnusableInputError is one too
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
    roll: TimedRoll | None = None  # the piano roll and the seconds of the audio it spans
    loop: PhraseLoop | None = None  # its longest stretch of one phrase played over and over
    tempo: float = 120.0  # quarter notes per minute, as it plays
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
    piece.roll = timed_piano_roll(tune.notes, STEPS_PER_BEAT, tune.tempo, prompt_steps)
    piece.loop = phrase_loop(tune.notes)
    piece.tempo = tune.tempo
    piece.copy_share = corpus.copies.copy_share(text) if corpus is not None else None
    return piece


# A tune loops when one phrase plays this many times in a row over at least this many beats, or its text repeats
# one stretch this many times over this many characters. Real tunes stay below both: in 6,000 random tunes of the
# ABC corpus (all five books), a phrase played 10 times or more lasts at most 10 beats (one note, 10 times), the
# most repetitive long stretch is a 7-note phrase played 8 times over 32 beats (a children's song), and the text
# repeats itself at most 4.5 times over 221 characters (verses written out) or, over 125 characters, 42 times
# (empty bars). Greedy decoding without remedies plays one phrase 20 to 490 times over 60 to 500 beats.
LOOP_PLAYS = 10
LOOP_BEATS = 16
TEXT_LOOP_CHARACTERS = 250
MAX_TEXT_PERIOD = 64


def loop_warning(piece: ComposedTune, settings: RequestSettings) -> str | None:
    """A plain warning when the tune plays one phrase over and over (or its text repeats itself), with the remedy;
    else None."""
    signs = []
    loop = piece.loop
    if loop is not None and loop.plays >= LOOP_PLAYS and loop.beats >= LOOP_BEATS:
        seconds = loop.beats * 60 / piece.tempo
        signs.append(f"a phrase of {loop.phrase_notes} note{'s' if loop.phrase_notes > 1 else ''} plays "
                     f"{loop.plays:.0f} times in a row ({duration_text(seconds)} of the same phrase)")
    period, _, count = longest_repetition(list(piece.text), MAX_TEXT_PERIOD)
    if period and count / period >= LOOP_PLAYS and count >= TEXT_LOOP_CHARACTERS:
        signs.append(f"its text repeats {period} character{'s' if period > 1 else ''} {count / period:.0f} times in "
                     f"a row ({count:,} characters)")
    if not signs:
        return None
    if settings.strategy == "greedy" and not settings.remedied:
        remedy = (f"Greedy decoding takes the likeliest character, and for these models that is soon the same "
                  f"phrase again: set the repetition penalty to {DEFAULT_REMEDIES['repetition_penalty']:g} and the "
                  f"no-repeat n-gram size to {DEFAULT_REMEDIES['no_repeat_ngram_size']}, or choose *top-p*.")
    elif settings.strategy == "greedy":
        remedy = (f"Set a smaller no-repeat n-gram size (at least {MIN_NGRAM}) or raise the repetition penalty, or "
                  "choose *top-p*.")
    else:
        remedy = "Raise the temperature, top-k or top-p."
    return f"**This tune loops**: {'; '.join(signs)}. {remedy}"


def duration_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def describe(piece: ComposedTune, settings: RequestSettings) -> str:
    """Markdown shown beside a tune: a warning when it loops, whether it plays, how much it repeats itself,
    what it copied, how fast it was written."""
    strategy = settings.strategy if settings.strategy != "greedy" else f"greedy, {settings.describe_remedies()}"
    lines = []
    if piece.playable:
        how = "ended by the model" if piece.ended else "stopped at the character limit, not ended by the model"
        lines.append(f"**Plays**: music21 read the tune ({how}).")
        loop = piece.loop
        lines.append(f"**Repetition**: its longest stretch of one repeated phrase is a phrase of {loop.phrase_notes} "
                     f"note{'s' if loop.phrase_notes > 1 else ''} played {loop.plays:.1f} times ({loop.beats:g} "
                     "beats)." if loop.phrase_notes else
                     "**Repetition**: no phrase plays twice in a row.")
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
    warning = loop_warning(piece, settings)
    if warning:
        lines.insert(0, warning)
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

"""The composer's one entry point for people: settings in, a piece to hear, see and download out.

`request_settings` checks the settings a request sent (the Gradio API can be
called with anything) with the model's own `ComposeSettings` checks;
`compose_piece` builds the primer, composes, renders audio and a piano roll,
and measures novelty and timing. The Gradio tab is a thin layer over both.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import torch
from PIL import Image

from models.lstm_composer.midi_codec import (
    BOS, MAX_FILE_BYTES, UnusableMidiError, midi_bytes,
)
from models.lstm_composer.modeling_lstm_composer import ComposeSettings, LstmComposerForCausalLM

from ..errors import UnusableInputError, bounded_number
from .audio import GM_PROGRAMS, Rendering, piano_roll, render
from .novelty import NGRAM_SIZES, PieceShape, ShippedCorpus, piece_shape

MAX_LENGTH = 2048  # new tokens per request
MAX_BEAMS = 16  # beams per request
PRIMER_SOURCES = ("random", "corpus", "upload")
MAX_PRIMER_TOKENS = 128


class RequestSettings(ComposeSettings):
    """The model's `ComposeSettings` (defaults and checks) as one web request may ask for them: at most
    MAX_LENGTH new tokens and MAX_BEAMS beams, since a request's cost (composing, rendering, the WAV sent
    back) grows with both."""

    max_tokens = MAX_LENGTH
    max_beams = MAX_BEAMS


def request_settings(**values) -> RequestSettings:
    """The composing settings a request sent, checked; a bad one raises UnusableInputError with its message."""
    try:
        return RequestSettings(**values)
    except ValueError as error:
        raise UnusableInputError(str(error)) from None


@dataclass
class ComposedPiece:
    midi: bytes
    primer_ids: list[int]
    new_ids: list[int]
    rendering: Rendering
    roll: Image.Image
    copy_rates: dict[int, float | None]
    shape: PieceShape
    primer_description: str
    timings: dict[str, float] = field(default_factory=dict)


def uploaded_primer(model: LstmComposerForCausalLM, path) -> list[int]:
    """The opening of an uploaded MIDI file as primer ids; unusable files raise UnusableInputError."""
    if path is None or str(path) == "":
        raise UnusableInputError("Choose a MIDI file to upload as the primer, or pick another primer source.")
    try:
        size = os.path.getsize(path)
    except (OSError, TypeError, ValueError):
        raise UnusableInputError("The uploaded primer could not be found on the server; upload it again.") from None
    if size > MAX_FILE_BYTES:
        raise UnusableInputError(f"The uploaded MIDI file is {size / 1e6:.1f} MB; at most "
                                 f"{MAX_FILE_BYTES / 1e6:.0f} MB are accepted.")
    try:
        ids = model.codec.ids_from_midi(str(path))
    except UnusableMidiError as error:
        raise UnusableInputError(str(error)) from None
    return trim_primer(model, ids)


def trim_primer(model: LstmComposerForCausalLM, ids: list[int]) -> list[int]:
    """At most MAX_PRIMER_TOKENS, never ending on a note whose duration was cut off."""
    ids = list(ids[:MAX_PRIMER_TOKENS])
    while len(ids) > 1 and model.codec.vocabulary[ids[-1]].startswith("note_"):
        ids.pop()
    return ids


def choose_primer(model, source: str, corpus_piece: str | None, upload, corpus: ShippedCorpus | None,
                  generator: torch.Generator) -> tuple[list[int], str]:
    if source not in PRIMER_SOURCES:
        raise UnusableInputError(f"Primer source must be one of {', '.join(PRIMER_SOURCES)}; got {source!r}.")
    if source == "random":
        return model.random_primer(generator), "a few random notes"
    if source == "corpus":
        if corpus is None or not corpus.primers:
            raise UnusableInputError("These weights ship no corpus pieces; choose a random or uploaded primer.")
        name = corpus_piece or next(iter(corpus.primers))
        if name not in corpus.primers:
            raise UnusableInputError(f"Unknown corpus piece {str(name)[:80]!r}; pick one from the list.")
        opening = trim_primer(model, [BOS, *corpus.primers[name]])
        return opening, f"the opening of {name} (a validation piece: never trained on)"
    return uploaded_primer(model, upload), "the opening of your MIDI file"


def compose_piece(
    model: LstmComposerForCausalLM,
    corpus: ShippedCorpus | None = None,
    settings: ComposeSettings | None = None,
    *,
    seed: int = 0,
    primer_source: str = "random",
    corpus_piece: str | None = None,
    primer=None,
    instrument: str = "Acoustic Grand Piano",
    tempo: float = 100.0,
    progress=None,
) -> ComposedPiece:
    """Compose, render and measure one piece with `settings` (default: the model's defaults). Every other
    argument is checked; bad ones raise UnusableInputError."""
    settings = settings or RequestSettings()
    if instrument not in GM_PROGRAMS:
        raise UnusableInputError(f"Unknown instrument {str(instrument)[:40]!r}; pick one from the list.")
    seed = bounded_number(seed, "Seed", 0, 2**31 - 1, integer=True)
    tempo = bounded_number(tempo, "Tempo", 30, 300)
    program = GM_PROGRAMS[instrument]

    generator = torch.Generator().manual_seed(seed)
    primer_ids, primer_description = choose_primer(model, primer_source, corpus_piece, primer, corpus, generator)

    def report(done, total):
        if progress is not None:
            progress((done, total), desc="composing", unit="tokens")

    started = time.perf_counter()
    new_ids = model.compose_ids(primer_ids, settings=settings, seed=seed, callback=report)[0]
    compose_seconds = time.perf_counter() - started
    if progress is not None:
        progress(0.9, desc="rendering audio")

    codec = model.codec
    notes, steps_per_beat = codec.notes_from_ids(primer_ids + new_ids)
    primer_notes, _ = codec.notes_from_ids(primer_ids)
    primer_steps = max((note.onset + 1 for note in primer_notes), default=0)
    started = time.perf_counter()
    rendering = render(notes, steps_per_beat, tempo, program)
    render_seconds = time.perf_counter() - started
    midi = midi_bytes(codec.midi_from_ids(primer_ids + new_ids, tempo, program))
    new_notes = [note for note in notes if note.onset >= primer_steps]
    return ComposedPiece(
        midi=midi,
        primer_ids=primer_ids,
        new_ids=new_ids,
        rendering=rendering,
        roll=piano_roll(notes, steps_per_beat, primer_steps),
        copy_rates={n: corpus.index.copy_rate(new_ids, n) if corpus is not None else None for n in NGRAM_SIZES},
        shape=piece_shape(new_notes, steps_per_beat),
        primer_description=primer_description,
        timings={"compose_seconds": compose_seconds, "tokens_per_second": len(new_ids) / max(compose_seconds, 1e-9),
                 "render_seconds": render_seconds, "audio_seconds": rendering.seconds},
    )


def describe(piece: ComposedPiece, strategy: str) -> str:
    """Markdown shown beside a piece: novelty, rhythm, timing, and any note about the audio."""
    rates = []
    for n, rate in piece.copy_rates.items():
        rates.append(f"{n}-grams: {'n/a (piece too short)' if rate is None else f'{100 * rate:.0f} %'}")
    novelty = ("**Copied from the training corpus** (share of the piece's token windows found verbatim in a "
               "training piece, any transposition): " + ", ".join(rates)) if piece.copy_rates.get(8) is not None or \
        piece.copy_rates.get(16) is not None else "**Novelty**: not available (these weights ship no training corpus)."
    shape = piece.shape
    lines = [
        novelty,
        f"**Rhythm**: {shape.notes} new notes with {shape.distinct_durations} different durations; "
        f"{shape.bars} bars, {100 * shape.distinct_bar_share:.0f} % of them distinct, longest run of one "
        f"repeated bar: {shape.longest_loop_bars}.",
        f"**Timing**: {len(piece.new_ids)} tokens ({strategy}) in {piece.timings['compose_seconds']:.2f} s "
        f"({piece.timings['tokens_per_second']:.0f} tokens/s); {piece.timings['audio_seconds']:.1f} s of audio "
        f"rendered in {piece.timings['render_seconds']:.2f} s by {piece.rendering.engine}.",
        f"**Primer**: {piece.primer_description}.",
    ]
    if piece.rendering.note:
        lines.insert(0, f"**Note**: {piece.rendering.note}")
    return "\n\n".join(lines)

"""The composer's one entry point for people: settings in, a piece to hear, see and download out.

`request_settings` checks the settings a request sent (the Gradio API can be
called with anything) with the model's own `ComposeSettings` checks, and
`Remedies` the remedies against loops that greedy and beam search may add;
`compose_piece` builds the primer, composes, renders audio and a piano roll,
and measures novelty, repetition and timing. The Gradio tab is a thin layer over them.

Greedy and beam search stay what the lecture means by them: the likeliest
continuation, which for this model is soon one bar over and over. The remedies
are transformers' own logits processors (`RepetitionPenaltyLogitsProcessor`,
`NoRepeatNGramLogitsProcessor`), applied as `generate` applies them: to the
logits before greedy's argmax, to the log-probabilities before beam search adds
them up. The model file's own loops stay plain; these loops run beside them on
the same stepper and give the model's pieces when the remedies are off.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers.generation.logits_process import (
    LogitsProcessor,
    LogitsProcessorList,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
)

from models.lstm_composer.midi_codec import (
    BOS, MAX_FILE_BYTES, SPECIAL_TOKENS, UnusableMidiError, midi_bytes,
)
from models.lstm_composer.modeling_lstm_composer import ComposeSettings, LstmComposerForCausalLM, one_intra_op_thread

from ..errors import UnusableInputError, bounded_number
from ..melody_entry import melody_to_midi, parse_melody
from .audio import GM_PROGRAMS, Rendering, TimedRoll, render, timed_piano_roll
from .novelty import NGRAM_SIZES, PieceShape, ShippedCorpus, piece_shape

MAX_LENGTH = 2048  # new tokens per request
MAX_BEAMS = 16  # beams per request
PRIMER_SOURCES = ("random", "corpus", "upload", "melody")
MAX_PRIMER_TOKENS = 128
BEATS_PER_BAR = 4  # how bars are counted when repetition is measured


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


REMEDIED_STRATEGIES = ("greedy", "beam")
MAX_REPETITION_PENALTY = 2.0
MIN_NGRAM, MAX_NGRAM = 3, 64  # n-grams of 1 or 2 tokens would soon forbid every next token
NOTE_TOKENS = {"performance": 3, "lecture": 1}  # tokens of one note (shift, pitch, duration) or one lecture chord


@dataclass(frozen=True)
class Remedies:
    """transformers' standard remedies against loops, for greedy and beam search (sampling leaves them off).

    repetition_penalty: every token already in the piece (primer included) has its logit divided by it (when
    positive; multiplied when negative), 1 to MAX_REPETITION_PENALTY; 1 = off.
    no_repeat_ngram_size: no n tokens in a row occur twice, 0 (off) or MIN_NGRAM to MAX_NGRAM tokens.

    `Remedies()` is none; `default_remedies(model)` what the demo starts with. Bad values raise
    UnusableInputError with a message.
    """

    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def __post_init__(self):
        penalty = bounded_number(self.repetition_penalty, "Repetition penalty", 1.0, MAX_REPETITION_PENALTY)
        size = bounded_number(self.no_repeat_ngram_size, "No-repeat n-gram size", 0, MAX_NGRAM, integer=True)
        if 0 < size < MIN_NGRAM:
            raise UnusableInputError(f"No-repeat n-gram size must be 0 (off) or at least {MIN_NGRAM}, got {size}: "
                                     "shorter n-grams soon forbid every next token.")
        object.__setattr__(self, "repetition_penalty", penalty)  # frozen: the checked value replaces the given one
        object.__setattr__(self, "no_repeat_ngram_size", size)

    @property
    def off(self) -> bool:
        return self.repetition_penalty == 1.0 and self.no_repeat_ngram_size == 0

    def processors(self) -> LogitsProcessorList:
        processors = LogitsProcessorList()
        if self.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(penalty=float(self.repetition_penalty)))
        if self.no_repeat_ngram_size:
            processors.append(NoRepeatNGramLogitsProcessor(ngram_size=self.no_repeat_ngram_size))
        return processors

    def describe(self) -> str:
        parts = []
        if self.repetition_penalty != 1.0:
            parts.append(f"repetition penalty {self.repetition_penalty:g}")
        if self.no_repeat_ngram_size:
            parts.append(f"no repeated {self.no_repeat_ngram_size}-grams")
        return " and ".join(parts) or "no remedies against loops"


def default_remedies(model: LstmComposerForCausalLM) -> Remedies:
    """Penalty 1.2 (the CTRL paper's, which transformers' docs suggest) and no four notes repeated as they were.

    Measured on the shipped weights (512 tokens, seeds 0-2, greedy and 4 beams): without remedies one bar plays
    41-42 times in a row on 1-2 pitches; the penalty alone still loops 37-39 bars; the n-grams alone stop the
    loop but leave 8-11 pitches; both together repeat no bar and play 16-24 pitches."""
    return Remedies(repetition_penalty=1.2, no_repeat_ngram_size=4 * NOTE_TOKENS[model.config.codec])


NO_REMEDIES = Remedies()


class OnWholeVocabulary(LogitsProcessor):
    """Run `processors` on scores of the musical tokens only (batch, musical tokens), which is what the composer's
    steps give. transformers' processors index scores by token id, so the special tokens' columns are put in
    front for them (at -inf: never chosen) and taken off again."""

    def __init__(self, processors: LogitsProcessorList):
        self.processors = processors

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        whole = torch.nn.functional.pad(scores, (len(SPECIAL_TOKENS), 0), value=float("-inf"))
        for processor in self.processors:  # not self.processors(...), which reads each one's signature per token
            whole = processor(input_ids, whole)
        return whole[:, len(SPECIAL_TOKENS):]


def compose_ids(model: LstmComposerForCausalLM, primer_ids: list[int], settings: ComposeSettings,
                remedies: Remedies = NO_REMEDIES, *, seed: int = 0, callback=None) -> list[int]:
    """`model.compose_ids(primer_ids, settings=settings, seed=seed)[0]`, with `remedies` when greedy or beam search
    (the other strategies, and remedies that are off, run the model's own loops)."""
    if settings.strategy not in REMEDIED_STRATEGIES or remedies.off:
        return model.compose_ids(primer_ids, settings=settings, seed=seed, callback=callback)[0]
    processors = OnWholeVocabulary(remedies.processors())
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), one_intra_op_thread():
            if settings.strategy == "greedy":
                return greedy_ids(model, primer_ids, settings.num_tokens, processors, callback)
            return beam_ids(model, primer_ids, settings.num_tokens, settings.num_beams, processors, callback)
    finally:
        model.train(was_training)


def primed_stepper(model: LstmComposerForCausalLM, primer_ids: list[int], batch: int):
    """The primer run through the LSTM at once: the musical tokens' logits after it (batch, tokens) and a stepper
    (the model's: the hub's fast one where installed) that continues from there."""
    output = model(input_ids=torch.tensor([primer_ids], device=model.device).expand(batch, -1))
    return output.logits[:, -1, len(SPECIAL_TOKENS):].float(), model.stepper(output.state)


def greedy_ids(model, primer_ids, num_tokens, processors, callback=None) -> list[int]:
    """The likeliest next token after `processors`, `num_tokens` times."""
    special = len(SPECIAL_TOKENS)
    scores, stepper = primed_stepper(model, primer_ids, 1)
    sequence = torch.tensor([primer_ids], device=model.device)  # (1, time): whole ids, as processors read them
    for step in range(num_tokens):
        token = processors(sequence, scores).argmax(dim=-1) + special  # (1,)
        sequence = torch.cat([sequence, token[:, None]], dim=1)
        if step + 1 < num_tokens:
            scores = stepper.advance(token)
        if callback is not None and (step + 1) % 64 == 0:
            callback(step + 1, num_tokens)
    return sequence[0, len(primer_ids):].tolist()


def beam_ids(model, primer_ids, num_tokens, num_beams, processors, callback=None) -> list[int]:
    """The model's beam search with `processors` applied to each step's log-probabilities (as `generate` does);
    greedy decoding with the same processors competes at the end, so the piece is never less likely (under the
    model) than greedy's."""
    special = len(SPECIAL_TOKENS)
    beams = min(num_beams, model.config.vocab_size - special)
    logits, stepper = primed_stepper(model, primer_ids, beams)  # every beam starts as the primer; one is kept at first
    log_probs = logits[:1].log_softmax(dim=-1)  # (beams, musical tokens)
    sequences = torch.tensor([primer_ids], device=model.device)  # (beams, time): whole ids
    scores = torch.zeros(1, device=model.device)
    for step in range(num_tokens):
        candidates = (scores[:, None] + processors(sequences, log_probs)).view(-1)
        scores, flat = candidates.topk(beams)
        beam, token = flat // log_probs.shape[1], flat % log_probs.shape[1] + special
        sequences = torch.cat([sequences[beam], token[:, None]], dim=1)
        stepper.reorder(beam)
        if step + 1 < num_tokens:
            log_probs = stepper.advance(token).log_softmax(dim=-1)
        if callback is not None and (step + 1) % 64 == 0:
            callback(step + 1, num_tokens)
    best = sequences[0, len(primer_ids):].tolist()
    greedy = greedy_ids(model, primer_ids, num_tokens, processors)
    return greedy if model.log_likelihood(primer_ids, greedy) > model.log_likelihood(primer_ids, best) else best


@dataclass
class ComposedPiece:
    midi: bytes
    primer_ids: list[int]
    new_ids: list[int]
    rendering: Rendering
    roll: TimedRoll  # the piano roll and the seconds of the audio it spans
    copy_rates: dict[int, float | None]
    shape: PieceShape
    primer_description: str
    remedies: Remedies  # those the strategy used: NO_REMEDIES for sampling
    suggested_remedies: Remedies  # the model's defaults, suggested when a piece loops
    bar_seconds: float
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


def uploaded(upload) -> bool:
    return upload is not None and str(upload) != ""


def typed(melody) -> bool:
    return isinstance(melody, str) and melody.strip() != ""


def melody_primer(model: LstmComposerForCausalLM, melody) -> list[int]:
    """A typed melody (plugins.melody_entry's note names) as primer ids; bad text raises UnusableInputError."""
    if not typed(melody):
        raise UnusableInputError("Type a melody (e.g. “C4 D4 E4 G4:2”) or play it on the keyboard, or pick "
                                 "another primer source.")
    try:
        ids = model.codec.ids_from_midi(melody_to_midi(parse_melody(melody)))
    except UnusableMidiError:  # only the lecture's chord codec refuses a melody: chords it never saw
        raise UnusableInputError("None of your melody's notes is a chord this model knows (the lecture's codec "
                                 "knows only the chords of its training pieces); choose another model.") from None
    return trim_primer(model, ids)


def choose_primer(model, source: str, corpus_piece: str | None, upload, corpus: ShippedCorpus | None,
                  generator: torch.Generator, melody=None) -> tuple[list[int], str]:
    """The primer ids and what they are, in words. A primer the request sent (an uploaded file, a typed melody)
    is used unless another source is named: "random" is the default, and someone who sends one means it."""
    if source not in PRIMER_SOURCES:
        raise UnusableInputError(f"Primer source must be one of {', '.join(PRIMER_SOURCES)}; got {str(source)[:40]!r}.")
    if source == "random":
        if uploaded(upload) and typed(melody):
            raise UnusableInputError("Both a MIDI file and a typed melody were sent: choose which is the primer "
                                     "(primer source “upload” or “melody”).")
        source = "upload" if uploaded(upload) else "melody" if typed(melody) else "random"
    if source == "random":
        return model.random_primer(generator), "a few random notes"
    if source == "melody":
        ids = melody_primer(model, melody)
        return ids, f"your melody ({len(parse_melody(melody))} notes)"
    if source == "corpus":
        if corpus is None or not corpus.primers:
            raise UnusableInputError("These weights ship no corpus pieces; choose a random or uploaded primer.")
        name = corpus_piece or next(iter(corpus.primers))
        if name not in corpus.primers:
            raise UnusableInputError(f"Unknown corpus piece {str(name)[:80]!r}; pick one from the list.")
        opening = trim_primer(model, [BOS, *corpus.primers[name]])
        return opening, f"the opening of {name} (a validation piece: never trained on)"
    ids = uploaded_primer(model, upload)
    name = re.sub(r"[^\w.+-]+", " ", Path(str(upload)).name).strip()[:80] or "(unnamed)"
    return ids, f"the opening of your MIDI file {name} ({len(ids)} tokens)"


def compose_piece(
    model: LstmComposerForCausalLM,
    corpus: ShippedCorpus | None = None,
    settings: ComposeSettings | None = None,
    remedies: Remedies | None = None,
    *,
    seed: int = 0,
    primer_source: str = "random",
    corpus_piece: str | None = None,
    primer=None,
    instrument: str = "Acoustic Grand Piano",
    tempo: float = 100.0,
    melody: str | None = None,
    progress=None,
) -> ComposedPiece:
    """Compose, render and measure one piece with `settings` (default: the model's defaults) and, for greedy and
    beam search, `remedies` against loops (default: `default_remedies(model)`). Every other argument is checked;
    bad ones raise UnusableInputError."""
    settings = settings or RequestSettings()
    remedies = remedies if remedies is not None else default_remedies(model)
    if settings.strategy not in REMEDIED_STRATEGIES:
        remedies = NO_REMEDIES
    if instrument not in GM_PROGRAMS:
        raise UnusableInputError(f"Unknown instrument {str(instrument)[:40]!r}; pick one from the list.")
    seed = bounded_number(seed, "Seed", 0, 2**31 - 1, integer=True)
    tempo = bounded_number(tempo, "Tempo", 30, 300)
    program = GM_PROGRAMS[instrument]

    generator = torch.Generator().manual_seed(seed)
    primer_ids, primer_description = choose_primer(model, primer_source, corpus_piece, primer, corpus, generator,
                                                   melody)

    def report(done, total):
        if progress is not None:
            progress((done, total), desc="composing", unit="tokens")

    started = time.perf_counter()
    new_ids = compose_ids(model, primer_ids, settings, remedies, seed=seed, callback=report)
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
        roll=timed_piano_roll(notes, steps_per_beat, tempo, primer_steps),
        copy_rates={n: corpus.index.copy_rate(new_ids, n) if corpus is not None else None for n in NGRAM_SIZES},
        shape=piece_shape(new_notes, steps_per_beat, BEATS_PER_BAR),
        primer_description=primer_description,
        remedies=remedies,
        suggested_remedies=default_remedies(model),
        bar_seconds=BEATS_PER_BAR * 60 / tempo,
        timings={"compose_seconds": compose_seconds, "tokens_per_second": len(new_ids) / max(compose_seconds, 1e-9),
                 "render_seconds": render_seconds, "audio_seconds": rendering.seconds},
    )


# A piece loops when one bar plays this many times in a row, or one pitch is this share of its notes. The
# corpus's own pieces stay far below both: 60 of them play no bar twice in a row, and their commonest pitch is
# at most 30 % of their notes (median 18 %).
LOOP_BARS = 4
LOOP_PITCH_SHARE = 0.5


def duration_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def loop_warning(piece: ComposedPiece, strategy: str) -> str | None:
    """A plain warning when the piece repeats itself far more than music does, with the remedy; else None."""
    shape = piece.shape
    signs = []
    if shape.longest_loop_bars >= LOOP_BARS:
        signs.append(f"one bar plays {shape.longest_loop_bars} times in a row "
                     f"({duration_text(shape.longest_loop_bars * piece.bar_seconds)} of the same bar)")
    if shape.notes >= 24 and shape.main_pitch_share >= LOOP_PITCH_SHARE:
        signs.append(f"one pitch is {100 * shape.main_pitch_share:.0f} % of its {shape.notes} notes")
    if not signs:
        return None
    if strategy in REMEDIED_STRATEGIES and piece.remedies.off:
        suggested = piece.suggested_remedies
        remedy = (f"{strategy.capitalize()} decoding takes the likeliest tokens, and for this model that is soon "
                  f"the same bar again (as the lecture found): set the repetition penalty to "
                  f"{suggested.repetition_penalty:g} and the no-repeat n-gram size to "
                  f"{suggested.no_repeat_ngram_size}, or choose *sample*.")
    elif strategy in REMEDIED_STRATEGIES:
        remedy = ("Raise the repetition penalty or set a smaller no-repeat n-gram size (at least "
                  f"{MIN_NGRAM}), or choose *sample*.")
    elif strategy == "adaptive":
        remedy = "Raise the temperature, or choose *sample*."
    else:
        remedy = "Raise the temperature or top-p, or choose *adaptive*, which heats up when the music repeats itself."
    return f"**This piece loops**: {'; '.join(signs)}. {remedy}"


def describe(piece: ComposedPiece, strategy: str) -> str:
    """Markdown shown beside a piece: a warning when it loops, novelty, repetition, rhythm, timing, the primer,
    and any note about the audio."""
    rates = []
    for n, rate in piece.copy_rates.items():
        rates.append(f"{n}-grams: {'n/a (piece too short)' if rate is None else f'{100 * rate:.0f} %'}")
    novelty = ("**Copied from the training corpus** (share of the piece's token windows found verbatim in a "
               "training piece, any transposition): " + ", ".join(rates)) if piece.copy_rates.get(8) is not None or \
        piece.copy_rates.get(16) is not None else "**Novelty**: not available (these weights ship no training corpus)."
    shape = piece.shape
    decoding = strategy if strategy not in REMEDIED_STRATEGIES else f"{strategy}, {piece.remedies.describe()}"
    lines = [
        novelty,
        f"**Repetition**: {shape.bars} bars, {100 * shape.distinct_bar_share:.0f} % of them distinct, longest run "
        f"of one repeated bar: {shape.longest_loop_bars}; {shape.distinct_pitches} different pitches, the "
        f"commonest {100 * shape.main_pitch_share:.0f} % of the notes.",
        f"**Rhythm**: {shape.notes} new notes with {shape.distinct_durations} different durations.",
        f"**Timing**: {len(piece.new_ids)} tokens ({decoding}) in {piece.timings['compose_seconds']:.2f} s "
        f"({piece.timings['tokens_per_second']:.0f} tokens/s); {piece.timings['audio_seconds']:.1f} s of audio "
        f"rendered in {piece.timings['render_seconds']:.2f} s by {piece.rendering.engine}.",
        f"**Primer**: {piece.primer_description}.",
    ]
    if piece.rendering.note:
        lines.insert(0, f"**Note**: {piece.rendering.note}")
    warning = loop_warning(piece, strategy)
    if warning:
        lines.insert(0, warning)
    return "\n\n".join(lines)

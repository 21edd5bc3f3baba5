"""Where the demo's melodies come from, checked: the held-out corpus melodies shipped with the weights, an
uploaded MIDI file, or notes typed as names (plugins.melody_entry); and what the tab does with them, as plain
functions the tests call too.

Every request value is checked here on the server (the HTTP API skips the
page's bounds); what cannot be used raises `UnusableInputError` with a sentence.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from models.lstm_composer.midi_codec import MAX_FILE_BYTES, UnusableMidiError, read_score
from models.melody_vae import INTERPOLATIONS, interpolate_latents, melody_line, pitch_name

from ..errors import UnusableInputError, bounded_number
from ..melody_entry import parse_melody
from .music import Verdict, judge
from .pictures import LatentMap

MIN_POINTS, MAX_POINTS = 3, 17  # melodies in an interpolation, both ends included
MAX_SAMPLES = 8
MAX_TEMPERATURE = 2.0
MAX_SEED = 2**31 - 1


@dataclass
class ShippedMelodies:
    """Held-out corpus melodies shipped beside the weights (melodies.json): label -> tokens, in file order."""

    tokens: dict[str, list[int]]

    @classmethod
    def load(cls, folder: Path, codec) -> "ShippedMelodies":
        path = Path(folder) / "melodies.json"
        if not path.is_file():
            return cls({})
        entries = json.loads(path.read_text())["melodies"]
        return cls({entry["name"]: entry["tokens"] for entry in entries
                    if len(entry["tokens"]) == codec.num_steps and all(0 <= t < codec.vocab_size
                                                                       for t in entry["tokens"])})

    def choice(self, name) -> list[int]:
        if not isinstance(name, str) or name not in self.tokens:
            raise UnusableInputError(f"Unknown corpus melody {str(name)[:80]!r}; pick one of the "
                                     f"{len(self.tokens):,} melodies in the list (or upload a MIDI file).")
        return self.tokens[name]


def uploaded(upload) -> bool:
    return upload is not None and str(upload) != ""


def melody_from_upload(codec, path) -> tuple[list[int], str]:
    """The first two bars of an uploaded MIDI file's top line, from its first note, moved by octaves into the
    model's range; and a description of what was taken."""
    try:
        size = os.path.getsize(path)
    except (OSError, TypeError, ValueError):
        raise UnusableInputError("The uploaded MIDI file could not be found on the server; upload it again.") from None
    if size > MAX_FILE_BYTES:
        raise UnusableInputError(f"The uploaded MIDI file is {size / 1e6:.1f} MB; at most "
                                 f"{MAX_FILE_BYTES / 1e6:.0f} MB are accepted.")
    try:
        score = read_score(str(path))  # the hub's bounded reader: size, events, notes, tempo, length
    except UnusableMidiError as error:
        raise UnusableInputError(str(error)) from None
    line = melody_line([(note.onset, note.pitch, note.duration) for note in score.notes], score.ticks_per_beat,
                       codec.steps_per_beat)
    name = re.sub(r"[^\w.+-]+", " ", Path(str(path)).name).strip()[:80] or "(unnamed)"
    tokens, moved = two_bars_in_range(codec, line, "of the MIDI file")
    return tokens, f"your MIDI file {name} (its top line, two bars from its first note{moved})"


TYPED_TICKS_PER_BEAT = 480


def melody_from_typed(codec, text: str) -> tuple[list[int], str]:
    """Notes typed as names ("C4 D4 E4:2 . G4", plugins.melody_entry's syntax) -> the model's melody: two bars
    from the first note on the sixteenth-note grid (triplets move to the nearest sixteenth), moved by octaves
    into the model's range; and a description. Unreadable text raises `UnusableInputError` naming the item."""
    notes = parse_melody(text)
    if not notes:
        raise UnusableInputError("The typed melody has only rests; type at least one note (e.g. C4 E4 G4).")
    line = melody_line([(int(note.start * TYPED_TICKS_PER_BEAT), note.pitch, int(note.duration * TYPED_TICKS_PER_BEAT))
                        for note in notes], TYPED_TICKS_PER_BEAT, codec.steps_per_beat)
    tokens, moved = two_bars_in_range(codec, line, "you typed")
    return tokens, f"the notes you typed ({len(notes)} notes, two bars from the first{moved})"


def two_bars_in_range(codec, line, where: str) -> tuple[list[int], str]:
    """The model's tokens for the first two bars of a melody line from its first note, moved by whole octaves into
    the model's range (by semitones when no octave fits); and the words saying how far it was moved."""
    start = line[0].onset
    heard = [note for note in line if note.onset < start + codec.num_steps]
    low, high = min(note.pitch for note in heard), max(note.pitch for note in heard)
    if high - low > codec.max_pitch - codec.min_pitch:
        raise UnusableInputError(f"The first two bars {where} span {pitch_name(low)}-{pitch_name(high)}, "
                                 f"wider than this model's range {pitch_name(codec.min_pitch)}-"
                                 f"{pitch_name(codec.max_pitch)}.")
    octaves = 0
    while low + 12 * octaves < codec.min_pitch:
        octaves += 1
    while high + 12 * octaves > codec.max_pitch:
        octaves -= 1
    if low + 12 * octaves < codec.min_pitch:  # no whole number of octaves fits: the nearest semitones do
        octaves = 0
        shift = codec.min_pitch - low
    else:
        shift = 12 * octaves
    tokens = codec.melody_from_notes([note._replace(pitch=note.pitch + shift) for note in heard], start)
    return tokens, (f", moved {shift:+d} semitones into the model's range" if shift else "")


def chosen_melody(codec, shipped: ShippedMelodies, corpus_id, upload, typed="") -> tuple[list[int], str]:
    """An uploaded file when one was sent, else typed notes when there are any, else the named corpus melody."""
    if uploaded(upload):
        return melody_from_upload(codec, upload)
    if typed is not None and not isinstance(typed, str):
        raise UnusableInputError("A typed melody must be text, such as C4 D4 E4 G4.")
    if typed and typed.strip():
        return melody_from_typed(codec, typed)
    if corpus_id is None or corpus_id == "":
        raise UnusableInputError("Choose a corpus melody, upload a MIDI file or type notes for each of the two "
                                 "melodies.")
    return shipped.choice(corpus_id), f"{corpus_id} (held-out corpus melody)"


def checked_points(value) -> int:
    return bounded_number(value, "Steps", MIN_POINTS, MAX_POINTS, integer=True)


def checked_method(value) -> str:
    if value not in INTERPOLATIONS:
        raise UnusableInputError(f"Path must be one of {', '.join(INTERPOLATIONS)}; got {str(value)[:40]!r}.")
    return value


@dataclass
class Interpolation:
    melodies: list[list[int]]  # decoded, first to last
    latents: torch.Tensor  # (points, latent)
    verdicts: list[Verdict]
    end_accuracy: tuple[float, float]  # how many steps of each input its end reproduces

    def midpoints_musical(self) -> int:
        return sum(verdict.musical for verdict in self.verdicts[1:-1])


@torch.no_grad()
def interpolate(model, first: list[int], last: list[int], points: int, method: str) -> Interpolation:
    codes = model.encode([first, last])
    latents = interpolate_latents(codes[0], codes[1], points, method)
    melodies = model.decode(latents).tolist()
    accuracy = tuple(sum(a == b for a, b in zip(decoded, given)) / len(given)
                     for decoded, given in ((melodies[0], first), (melodies[-1], last)))
    return Interpolation(melodies, latents, [judge(model.codec, melody) for melody in melodies], accuracy)


def checked_sampling(count, temperature, seed) -> tuple[int, float, int]:
    return (bounded_number(count, "Melodies", 1, MAX_SAMPLES, integer=True),
            bounded_number(temperature, "Temperature", 0.0, MAX_TEMPERATURE),
            bounded_number(seed, "Seed", 0, MAX_SEED, integer=True))


def latent_map(model, shipped: ShippedMelodies) -> LatentMap | None:
    """The PCA plane of the model's codes for the shipped corpus melodies (None without melodies)."""
    if len(shipped.tokens) < 3:
        return None
    return LatentMap.of(model.encode(list(shipped.tokens.values())))

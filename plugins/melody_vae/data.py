"""Two-bar melodies cut from a MIDI corpus: the top line of each piece, split by piece, in windows of fixed length.

What a melody is, and why:

- Each piece is read with the hub's bounded MIDI reader and reduced to its top
  line on a sixteenth-note grid (`melody_line`: the soprano of a chorale, the
  tune of a folk tune).
- Pieces are split once, by piece, into training (80 %), validation (10 %) and
  test (10 %) with a fixed permutation of their sorted paths, so no piece is on
  two sides whatever the run's seed.
- Training windows start every half bar of 4/4 (8 steps; the corpus' metres
  differ and its MIDI files carry no bar lines for pickups, so windows are
  not bar-aligned); held-out windows do not overlap (every 32 steps), so each
  held-out melody is an independent example for the figures' errors.
- A window is kept when at most half of its steps are rests and it starts at
  least `MIN_NOTES` notes: MusicVAE drops near-silent windows likewise, and a
  melody that is mostly silence teaches and tests nothing.
- Keys: each training window is transposed at random, every time it is drawn,
  by one of the twelve shifts -6..+5 semitones that keep it inside the model's
  pitch range (all twelve keys where it fits); held-out windows stay in their own
  key (or the nearest one that fits).
- A held-out window whose notes and rhythm occur in a training window in any key
  (folk collections share tunes, chorales share cadences) is dropped: it would
  measure memory, not generalisation. The count is in the statistics.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.lstm_composer.midi_codec import UnusableMidiError, read_score
from models.melody_vae.melody_codec import FIRST_PITCH_TOKEN, HOLD, REST, GridNote, MelodyCodec, melody_line

from ..base import DataSplits, Preset
from ..datasets import TensorDictDataset
from ..errors import DataError
from ..lstm_composer.data import find_midi_files

SPLIT_SEED = 0  # the split is a property of the corpus, not of a run
HELD_OUT_FRACTION = 0.1  # each of validation and test
TRAIN_HOP = 8  # steps between training windows
MIN_NOTES = 3
MAX_REST_SHARE = 0.5
SHIFTS = range(-6, 6)  # the twelve keys
DEFAULT_FOLDERS = ("bach-chorales", "folk-oneills1850", "folk-ryans-mammoth")


@dataclass
class Piece:
    name: str  # path relative to the corpus folder
    notes: list[GridNote]


def codec_for(preset: Preset) -> MelodyCodec:
    model = preset.model
    return MelodyCodec(model.get("min_pitch", 48), model.get("max_pitch", 84), model.get("num_steps", 32),
                       model.get("steps_per_beat", 4), model.get("steps_per_bar", 16))


def piece_steps(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """Per step of a piece: the pitch sounding (-1 for silence) and whether a note starts there."""
    end = max(note.onset + note.duration for note in piece.notes)
    sounding, starts = np.full(end, -1, dtype=np.int64), np.zeros(end, dtype=bool)
    for note in piece.notes:
        sounding[note.onset:note.onset + note.duration] = note.pitch
        starts[note.onset] = True
    return sounding, starts


def melody_windows(piece: Piece, codec: MelodyCodec, hop: int) -> list[tuple[int, list[int], int, int]]:
    """(start step, tokens, lowest shift, highest shift) of each usable window of a piece, tokens in the piece's
    own key or the nearest that fits; the shifts are those of SHIFTS that keep it in range, relative to it.

    A note sounding when a window begins starts at its first step (as MusicVAE cuts its windows)."""
    if not piece.notes:
        return []
    sounding, starts = piece_steps(piece)
    length = codec.num_steps
    windows = []
    for start in range(0, max(1, len(sounding) - length + 1), hop):
        pitches, onsets = sounding[start:start + length], starts[start:start + length].copy()
        if len(pitches) < length:
            pitches = np.concatenate([pitches, np.full(length - len(pitches), -1)])
            onsets = np.concatenate([onsets, np.zeros(length - len(onsets), dtype=bool)])
        onsets[0] |= pitches[0] >= 0
        notes, rests = int(onsets.sum()), int((pitches < 0).sum())
        if notes < MIN_NOTES or rests > MAX_REST_SHARE * length:
            continue
        heard = pitches[pitches >= 0]
        low = max(SHIFTS.start, codec.min_pitch - int(heard.min()))
        high = min(SHIFTS.stop - 1, codec.max_pitch - int(heard.max()))
        if low > high:
            continue  # no key of the twelve fits the range
        own = min(max(0, low), high)  # its own key when that fits
        tokens = np.where(onsets, pitches + own - codec.min_pitch + FIRST_PITCH_TOKEN,
                          np.where(pitches >= 0, HOLD, REST))
        windows.append((start, tokens.tolist(), low - own, high - own))
    return windows


def shape_key(tokens) -> tuple:
    """A window's notes and rhythm in any key: note-ons as intervals from its first note."""
    first = next((token for token in tokens if token >= FIRST_PITCH_TOKEN), 0)
    return tuple(token - first + 1000 if token >= FIRST_PITCH_TOKEN else token for token in tokens)


def read_pieces(folder: Path, folders) -> tuple[list[Piece], Counter, list[str]]:
    """Every readable piece under the named subfolders of `folder` (all of it when none of them is there)."""
    present = [name for name in folders or () if (folder / name).is_dir()]
    files = [path for name in present for path in find_midi_files(folder / name)] if present else \
        find_midi_files(folder)
    pieces, skipped = [], Counter()
    for path in files:
        try:
            score = read_score(path)
        except UnusableMidiError as error:
            skipped[str(error).split(" (")[0].rstrip(".")] += 1
            continue
        line = melody_line([(note.onset, note.pitch, note.duration) for note in score.notes], score.ticks_per_beat)
        pieces.append(Piece(path.relative_to(folder).as_posix(), line))
    return pieces, skipped, present or [folder.name]


def splits_from_pieces(pieces: list[Piece], codec: MelodyCodec, description: str, skipped: Counter) -> DataSplits:
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pieces))
    held_out = max(1, round(HELD_OUT_FRACTION * len(pieces)))
    sides = {"test": order[:held_out], "validation": order[held_out:2 * held_out], "train": order[2 * held_out:]}
    sides = {side: [pieces[index] for index in sorted(indices.tolist())] for side, indices in sides.items()}

    train = [window for piece in sides["train"] for window in melody_windows(piece, codec, TRAIN_HOP)]
    if not train:
        raise DataError("no training melodies: the pieces are too short, mostly rests or outside the pitch range")
    # Every training window at every step, in any key, for the de-duplication of the held-out ones.
    seen = {shape_key(tokens) for piece in sides["train"] for _, tokens, _, _ in melody_windows(piece, codec, 1)}
    held, dropped = {}, {}
    for side in ("validation", "test"):
        windows = [(piece.name, start, tokens) for piece in sides[side]
                   for start, tokens, _, _ in melody_windows(piece, codec, codec.num_steps)]
        held[side] = [window for window in windows if shape_key(window[2]) not in seen]
        dropped[side] = len(windows) - len(held[side])
        if not held[side]:
            raise DataError(f"no {side} melodies left: the corpus needs more pieces")

    def dataset(windows) -> TensorDictDataset:
        return TensorDictDataset(input_ids=torch.tensor([tokens for *_, tokens in windows], dtype=torch.long))

    statistics = "\n".join([
        f"pieces: {len(sides['train']):,} training / {len(sides['validation']):,} validation / "
        f"{len(sides['test']):,} test (split by piece)",
        f"melodies of {codec.num_steps} steps: {len(train):,} training windows (every {TRAIN_HOP} steps, each "
        f"drawn in a random key of the twelve that fit), {len(held['validation']):,} validation and "
        f"{len(held['test']):,} test windows (not overlapping)",
        f"held-out windows dropped because a training window has the same notes and rhythm in some key: "
        f"{dropped['validation']:,} validation, {dropped['test']:,} test",
        f"skipped files: {sum(skipped.values()):,}" + "".join(f"\n    {count:,} x {reason}"
                                                             for reason, count in skipped.most_common()),
    ])
    return DataSplits(
        train=TensorDictDataset(
            input_ids=torch.tensor([tokens for _, tokens, _, _ in train], dtype=torch.long),
            lowest_shift=torch.tensor([low for *_, low, _ in train], dtype=torch.long),
            highest_shift=torch.tensor([high for *_, high in train], dtype=torch.long)),
        validation=dataset(held["validation"]),
        test=dataset(held["test"]),
        description=description,
        extras={"test_names": [f"{name} from step {start}" for name, start, _ in held["test"]],
                "validation_names": [f"{name} from step {start}" for name, start, _ in held["validation"]],
                "train_shapes": seen, "statistics": statistics},
    )


def load_melodies(data_dir: Path | None, preset: Preset) -> DataSplits:
    if data_dir is None:
        raise DataError("the melody VAE learns from a folder of MIDI files: pass --data-dir FOLDER (the hub's corpus, "
                        f"or any folder of .mid files; it reads the subfolders {', '.join(DEFAULT_FOLDERS)} "
                        "where they exist)")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(f"--data-dir {folder} is not a folder of MIDI files")
    pieces, skipped, read = read_pieces(folder, preset.training.options.get("folders", DEFAULT_FOLDERS))
    if len(pieces) < 10:
        raise DataError(f"only {len(pieces)} usable MIDI file(s) under {folder}; the split needs at least 10 pieces")
    codec = codec_for(preset)
    splits = splits_from_pieces(pieces, codec, "", skipped)
    counts = Counter(piece.name.split("/")[0] for piece in pieces)
    splits.description = (
        f"top lines of {len(pieces):,} MIDI pieces from {folder.name}/ "
        f"({', '.join(f'{name}: {count}' for name, count in sorted(counts.items()))}), split by piece; "
        f"{len(splits.train):,} training / {len(splits.validation):,} validation / {len(splits.test):,} test "
        f"melodies of {codec.num_steps} sixteenth-note steps; training melodies transposed to all twelve keys")
    print(f"MIDI corpus {folder.name}/ ({', '.join(read)}):\n{splits.extras['statistics']}", flush=True)
    return splits


# ------------------------------------------------------------------ synthetic
def synthetic_piece(rng: np.random.Generator, name: str, bars: int = 8) -> Piece:
    """A made-up tune: a walk on a major scale in a random key, in quarters, eighths and sixteenths."""
    key = int(rng.integers(57, 69))
    scale = [0, 2, 4, 5, 7, 9, 11, 12, 14]
    notes, step, degree = [], 0, 4
    while step < bars * 16:
        length = int(rng.choice([1, 2, 2, 4, 4, 8]))
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(scale) - 1))
        notes.append(GridNote(step, key + scale[degree], length))
        step += length
    return Piece(name, notes)


def synthetic_melodies(preset: Preset, num_examples: int, seed: int) -> DataSplits:
    """Scale-walk tunes cut and split by the real windowing: exactly `num_examples` training melodies."""
    rng = np.random.default_rng(seed)
    codec = codec_for(preset)
    pieces = [synthetic_piece(rng, f"synthetic-{index}.mid") for index in range(max(30, num_examples // 4))]
    splits = splits_from_pieces(pieces, codec, f"SYNTHETIC scale walks ({num_examples} melodies)", Counter())
    fields = splits.train.fields
    while len(fields["input_ids"]) < num_examples:  # a long request: the same melodies again
        fields = {key: torch.cat([value, value]) for key, value in fields.items()}
    splits.train = TensorDictDataset(**{key: value[:num_examples] for key, value in fields.items()})
    return splits

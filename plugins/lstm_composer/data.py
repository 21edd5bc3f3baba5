"""A training corpus from any folder of MIDI files, split by piece, cut into chunks for teacher forcing.

Every `.mid` / `.midi` file under the folder (recursively, following folder
links) is one piece. Pieces are split once into training and validation with a
fixed permutation of their sorted relative paths, so no piece contributes to
both. Files that cannot be used are skipped and counted with the reason.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np
import torch

from models.lstm_composer.midi_codec import (
    BOS, EOS, PAD, LectureCodec, Note, PerformanceCodec, UnusableMidiError, notes_to_midi, read_score,
)

from ..base import DataSplits, Preset
from ..datasets import TensorDictDataset
from ..errors import DataError

VALIDATION_FRACTION = 0.1
SPLIT_SEED = 0  # the split is a property of the corpus, not of a run
MIDI_SUFFIXES = (".mid", ".midi")
MAX_FILES = 100_000


@dataclass
class Piece:
    name: str  # path relative to the corpus folder
    tokens: list[str]


@dataclass
class Corpus:
    """Pieces as token strings, split by piece, with what was skipped and why."""

    train: list[Piece]
    validation: list[Piece]
    skipped: Counter = field(default_factory=Counter)  # reason -> files
    skipped_examples: dict[str, str] = field(default_factory=dict)  # reason -> one file name

    def statistics(self, vocabulary_size: int) -> str:
        lines = [
            f"pieces: {len(self.train):,} training + {len(self.validation):,} validation "
            f"(split by piece, {VALIDATION_FRACTION:.0%} held out)",
            f"tokens: {sum(len(p.tokens) for p in self.train):,} training + "
            f"{sum(len(p.tokens) for p in self.validation):,} validation (without <bos>/<eos>)",
            f"vocabulary: {vocabulary_size:,} tokens",
            f"skipped files: {sum(self.skipped.values()):,}",
        ]
        lines += [f"    {count:,} x {reason} (e.g. {self.skipped_examples[reason]})"
                  for reason, count in self.skipped.most_common()]
        return "\n".join(lines)


def find_midi_files(folder: Path) -> list[Path]:
    files = []
    for root, _, names in os.walk(folder, followlinks=True):
        files += [Path(root) / name for name in names if name.lower().endswith(MIDI_SUFFIXES)]
        if len(files) > MAX_FILES:
            raise DataError(f"{folder} holds more than {MAX_FILES:,} MIDI files; point --data-dir at a smaller folder")
    return sorted(files, key=lambda path: path.relative_to(folder).as_posix())


def tokenizer_for(model_options: dict):
    """The codec half that turns scores into token strings, from a preset's model settings."""
    if model_options.get("codec", "performance") == "lecture":
        return LectureCodec(list(("<pad>", "<bos>", "<eos>")), model_options.get("maxnotes", 0))
    return PerformanceCodec(model_options.get("steps_per_beat", 12), model_options.get("max_shift_steps", 48),
                            model_options.get("max_duration_steps", 96))


def build_corpus(folder: Path, model_options: dict) -> Corpus:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--data-dir {folder} is not a folder; give a folder of .mid/.midi files "
                        "(searched recursively), e.g. ../shared/datasets/midi")
    files = find_midi_files(folder)
    if not files:
        raise DataError(f"no .mid or .midi files under {folder}")
    codec = tokenizer_for(model_options)
    pieces, skipped, examples = [], Counter(), {}
    for path in files:
        name = path.relative_to(folder).as_posix()
        try:
            tokens = codec.tokens_from_score(read_score(path))
        except UnusableMidiError as error:
            reason = str(error).split(" (")[0].rstrip(".")
            skipped[reason] += 1
            examples.setdefault(reason, name)
            continue
        pieces.append(Piece(name, tokens))
    if len(pieces) < 2:
        raise DataError(f"only {len(pieces)} usable MIDI file(s) under {folder}; a corpus needs at least 2 "
                        "(one to train on, one to validate)")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pieces))
    held_out = max(1, round(VALIDATION_FRACTION * len(pieces)))
    validation = sorted(order[:held_out].tolist())
    train = sorted(order[held_out:].tolist())
    return Corpus([pieces[i] for i in train], [pieces[i] for i in validation], skipped, examples)


def chunk_stream(pieces: list[list[int]], window: int) -> torch.Tensor:
    """<bos> piece <eos> <bos> piece <eos> ... cut into (chunks, window + 1) overlapping by one token.

    Each token is a prediction target exactly once; the last chunk is padded with <pad>.
    """
    stream = [index for ids in pieces for index in (BOS, *ids, EOS)]
    length = window + 1
    count = max(1, -(-(len(stream) - 1) // window))
    padded = np.full(count * window + 1, PAD, dtype=np.int64)
    padded[:len(stream)] = stream
    starts = np.arange(count) * window
    return torch.from_numpy(padded[starts[:, None] + np.arange(length)])


def to_splits(corpus: Corpus, vocabulary: list[str], window: int, description: str) -> DataSplits:
    token_to_id = {token: index for index, token in enumerate(vocabulary)}

    def ids(piece: Piece) -> list[int]:
        return [token_to_id[token] for token in piece.tokens if token in token_to_id]

    train_ids = [ids(piece) for piece in corpus.train]
    validation_ids = [ids(piece) for piece in corpus.validation]
    return DataSplits(
        train=TensorDictDataset(input_ids=chunk_stream(train_ids, window)),
        validation=TensorDictDataset(input_ids=chunk_stream(validation_ids, window)),
        description=description,
        extras={
            "vocabulary": vocabulary,
            "train_pieces": train_ids,
            "train_names": [piece.name for piece in corpus.train],
            "validation_pieces": validation_ids,
            "validation_names": [piece.name for piece in corpus.validation],
            "statistics": corpus.statistics(len(vocabulary)),
        },
    )


def vocabulary_for(corpus: Corpus, model_options: dict) -> list[str]:
    codec = tokenizer_for(model_options)
    if isinstance(codec, LectureCodec):  # the lecture's sorted(set(data)), over every usable piece
        return LectureCodec.build_vocabulary(token for piece in corpus.train + corpus.validation
                                             for token in piece.tokens)
    return codec.vocabulary


def load_corpus(data_dir: Path | None, preset: Preset) -> DataSplits:
    if data_dir is None:
        raise DataError("the composer trains on a folder of MIDI files: pass --data-dir FOLDER "
                        "(any folder of .mid/.midi files, searched recursively)")
    corpus = build_corpus(Path(data_dir), preset.model)
    vocabulary = vocabulary_for(corpus, preset.model)
    print(f"MIDI corpus {Path(data_dir).name}/:\n{corpus.statistics(len(vocabulary))}", flush=True)
    folders = Counter(piece.name.split("/")[0] if "/" in piece.name else "." for piece in corpus.train + corpus.validation)
    description = (
        f"{len(corpus.train) + len(corpus.validation):,} MIDI pieces from {Path(data_dir).name}/ "
        f"({', '.join(f'{name}: {count}' for name, count in sorted(folders.items()))}); "
        f"{len(corpus.train):,} training / {len(corpus.validation):,} validation pieces, split by piece; "
        f"{sum(len(p.tokens) for p in corpus.train):,} training tokens, vocabulary {len(vocabulary):,}; "
        f"{sum(corpus.skipped.values())} file(s) skipped"
    )
    return to_splits(corpus, vocabulary, preset.model.get("window", 128), description)


# ------------------------------------------------------------------ synthetic
def synthetic_notes(rng: np.random.Generator, steps_per_beat: int = 12, bars: int = 8) -> list[Note]:
    """A made-up tune: a scale walk in a random key, quarters and eighths, bass on each bar's first beat."""
    key = int(rng.integers(55, 67))
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    notes, step, degree = [], 0, 0
    for _ in range(bars):
        notes.append(Note(step, key - 12, 4 * steps_per_beat))
        bar_end = step + 4 * steps_per_beat
        while step < bar_end:
            length = steps_per_beat if rng.random() < 0.6 else steps_per_beat // 2
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(scale) - 1))
            notes.append(Note(step, key + scale[degree], length))
            step += length
    return notes


def synthetic_midi(rng: np.random.Generator) -> mido.MidiFile:
    return notes_to_midi(synthetic_notes(rng), 40, 480, 100.0, 0)


def synthetic_corpus(preset: Preset, num_examples: int, seed: int) -> DataSplits:
    """Tunes made on the spot and read back through the real MIDI reader: `num_examples` training chunks."""
    rng = np.random.default_rng(seed)
    codec = tokenizer_for(preset.model)
    window = preset.model.get("window", 128)

    def pieces_for(chunks: int, prefix: str) -> list[Piece]:
        pieces, tokens = [], 0
        while tokens < chunks * window + 1:
            score = read_score(synthetic_midi(rng))
            piece = Piece(f"{prefix}-{len(pieces)}.mid", codec.tokens_from_score(score))
            pieces.append(piece)
            tokens += len(piece.tokens) + 2
        return pieces

    held_out = max(8, num_examples // 4)
    corpus = Corpus(pieces_for(num_examples, "synthetic-train"), pieces_for(held_out, "synthetic-validation"))
    splits = to_splits(corpus, vocabulary_for(corpus, preset.model), window,
                       f"synthetic scale tunes ({num_examples} chunks)")
    # Exactly the number of chunks asked for (the last of the stream may be short and padded).
    splits.train = TensorDictDataset(input_ids=splits.train.fields["input_ids"][:num_examples])
    return splits

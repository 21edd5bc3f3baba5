"""How much of a generated piece is copied from the training corpus, and whether it keeps rhythm or loops.

Copy rate: the share of a piece's n-token windows (n = 8 and 16) that occur
verbatim in a training piece, in any key (the performance codec's pieces are
also looked up transposed by -5..+6 semitones). Windows are compared by a 64-bit polynomial hash kept in a
sorted array, so a corpus of a million tokens is indexed in about a second
and a lookup is a binary search.

The training pieces travel with the shipped model in `composer_corpus.safetensors`
(token ids only, a few hundred kB), with a few validation openings as primers.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

CORPUS_FILE = "composer_corpus.safetensors"
NGRAM_SIZES = (8, 16)
PRIMER_TOKENS = 64
MAX_PRIMERS = 40
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def window_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A uint64 hash of every n-token window of `ids` (empty when shorter than n)."""
    ids = np.asarray(ids, dtype=np.uint64)
    if len(ids) < n:
        return np.empty(0, dtype=np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(ids, n)
    powers = _MULTIPLIER ** np.arange(n, dtype=np.uint64)  # wraps modulo 2**64, on purpose
    with np.errstate(over="ignore"):
        return ((windows + np.uint64(1)) * powers).sum(axis=1, dtype=np.uint64)


@dataclass
class NoveltyIndex:
    """Sorted window hashes of the training pieces, one array per n."""

    hashes: dict[int, np.ndarray]
    transpositions: np.ndarray | None = None  # (shifts, vocab) id maps the model was trained with; None = only as is

    @classmethod
    def build(cls, pieces: list[list[int]], transpositions=None, sizes=NGRAM_SIZES) -> "NoveltyIndex":
        hashes = {}
        for n in sizes:
            parts = [window_hashes(np.asarray(piece), n) for piece in pieces]
            hashes[n] = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)
        table = None if transpositions is None else np.asarray(transpositions, dtype=np.int64)
        return cls(hashes, table)

    def found(self, ids: list[int], n: int) -> np.ndarray:
        """For each n-window of `ids`: was it in the training corpus (in some transposition)?"""
        variants = [np.asarray(ids, dtype=np.int64)]
        if self.transpositions is not None:
            variants = [table[variants[0]] for table in self.transpositions]
        known = self.hashes[n]
        hits = None
        for variant in variants:
            query = window_hashes(variant, n)
            position = np.searchsorted(known, query).clip(0, max(0, len(known) - 1))
            hit = known[position] == query if len(known) else np.zeros(len(query), dtype=bool)
            hits = hit if hits is None else hits | hit
        return hits if hits is not None else np.zeros(0, dtype=bool)

    def copy_rate(self, ids: list[int], n: int) -> float | None:
        """Share of the piece's n-token windows found in the corpus; None when the piece is shorter than n."""
        hits = self.found(ids, n)
        return float(hits.mean()) if len(hits) else None


# ------------------------------------------------------------------ corpus file
@dataclass
class ShippedCorpus:
    """What the demo needs from the training data: the novelty index and a few primers."""

    index: NoveltyIndex
    primers: dict[str, list[int]]  # name -> opening ids (validation pieces: never trained on)


def save_corpus(folder: Path, train_pieces: list[list[int]], primer_pieces: list[list[int]], primer_names: list[str],
                transpositions: list[list[int]] | None) -> Path:
    """Write the training pieces (for novelty) and validation openings (for primers) as safetensors."""
    def packed(pieces):
        # int16 holds any vocabulary below 32,768 tokens and halves the file
        flat = np.concatenate([np.asarray(p, dtype=np.int16) for p in pieces]) if pieces else np.empty(0, np.int16)
        offsets = np.cumsum([0, *(len(p) for p in pieces)]).astype(np.int64)
        return torch.from_numpy(flat), torch.from_numpy(offsets)

    openings = [list(piece[:PRIMER_TOKENS]) for piece in primer_pieces[:MAX_PRIMERS]]
    tensors = {}
    tensors["train_ids"], tensors["train_offsets"] = packed(train_pieces)
    tensors["primer_ids"], tensors["primer_offsets"] = packed(openings)
    if transpositions is not None:
        tensors["transpositions"] = torch.tensor(transpositions, dtype=torch.int16)
    path = Path(folder) / CORPUS_FILE
    save_file(tensors, str(path), metadata={"primer_names": json.dumps(primer_names[:MAX_PRIMERS])})
    return path


def load_corpus(folder: Path) -> ShippedCorpus | None:
    """The shipped corpus of a model folder, or None when the folder has none."""
    path = Path(folder) / CORPUS_FILE
    if not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        names = json.loads((handle.metadata() or {}).get("primer_names", "[]"))
    tensors = load_file(str(path))

    def unpacked(ids, offsets):
        ids, offsets = ids.numpy().astype(np.int64), offsets.numpy()
        return [ids[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]

    train = unpacked(tensors["train_ids"], tensors["train_offsets"])
    openings = unpacked(tensors["primer_ids"], tensors["primer_offsets"])
    transpositions = tensors["transpositions"].numpy().astype(np.int64) if "transpositions" in tensors else None
    return ShippedCorpus(NoveltyIndex.build(train, transpositions), dict(zip(names, openings)))


# ------------------------------------------------------------------ rhythm and loops
@dataclass
class PieceShape:
    """Measured facts about a generated piece's notes."""

    notes: int
    distinct_durations: int
    main_duration_share: float  # share of notes that have the most common duration
    bars: int
    distinct_bar_share: float  # distinct bars / bars: 1/bars means one bar looped throughout
    longest_loop_bars: int  # most consecutive bars equal to the bar before them, +1
    distinct_pitches: int = 0
    main_pitch_share: float = 0.0  # share of notes that have the most common pitch


def piece_shape(notes, steps_per_beat: int, beats_per_bar: int = 4) -> PieceShape:
    """Rhythm and repetition of notes given in grid steps (a `Note` list)."""
    if not notes:
        return PieceShape(0, 0, 0.0, 0, 0.0, 0)
    durations = Counter(note.duration for note in notes)
    pitches = Counter(note.pitch for note in notes)
    bar_steps = steps_per_beat * beats_per_bar
    bars: dict[int, list] = {}
    for note in notes:
        bars.setdefault(note.onset // bar_steps, []).append((note.onset % bar_steps, note.pitch, note.duration))
    last = max(bars)
    contents = [tuple(sorted(bars.get(bar, []))) for bar in range(last + 1)]
    longest = run = 1
    for previous, current in zip(contents, contents[1:]):
        run = run + 1 if current == previous and current else 1
        longest = max(longest, run)
    return PieceShape(
        notes=len(notes),
        distinct_durations=len(durations),
        main_duration_share=durations.most_common(1)[0][1] / len(notes),
        bars=len(contents),
        distinct_bar_share=len(set(contents)) / len(contents),
        longest_loop_bars=longest,
        distinct_pitches=len(pitches),
        main_pitch_share=pitches.most_common(1)[0][1] / len(notes),
    )


def mean_and_error(values: list[float]) -> tuple[float, float | None]:
    """Mean and its standard error (None for fewer than two values)."""
    values = [value for value in values if value is not None]
    if not values:
        return float("nan"), None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))

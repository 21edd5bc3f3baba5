"""ABC tunes from any folder of `.abc` files: cleaned, de-duplicated, split by tune, cut into character chunks.

A tune starts at its `X:` line. What the models see of a tune (the same for
every preset, so their bits per character compare):

- header fields kept: the first `T:` (title), `R:` (rhythm), `M:` (metre),
  `L:` (unit note length), `Q:` (tempo), `P:` (parts) and `K:` (key, which ends
  the header); dropped: `X:` (a book's numbering; <bos> starts a tune instead),
  transcribers' notes, sources and history (`Z: N: B: O: S: H: D: F: C: W: w:`),
  `%` comments;
- quoted strings (chord names, fingerings, annotations) are removed, line
  continuations (`\\` at a line's end) joined, blank lines and trailing spaces
  dropped, letters outside ASCII spelled in ASCII (`ü` -> `u`).

Tunes with the same music (the lines after `K:`) are kept once. The split is
by tune and a property of the tune itself: a tune is held out for validation
when the first byte of the SHA-256 of its music is below 10 % of 256. So a
tune is on the same side whichever folders a preset reads, and the lab's
corpus (`mit-6s191-irish/`) has the same validation tunes inside the full one.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models.char_lm import BOS, EOS, PAD, CharCodec

from ..base import DataSplits, Preset
from ..datasets import TensorDictDataset
from ..errors import DataError

VALIDATION_SHARE = 26  # of 256: a tune whose music hashes below this is held out (10.2 %)
KEPT_FIELDS = "TRMLQPK"
MAX_TUNE_CHARACTERS = 4000  # longer "tunes" are whole suites or parsing accidents
MAX_FILES = 20_000
LAB_FOLDER = "mit-6s191-irish"
FIELD = re.compile(r"^([A-Za-z]):")
QUOTED = re.compile(r'"[^"\n]*"')


@dataclass
class Tune:
    source: str  # file path relative to the corpus folder
    text: str  # the cleaned tune: header lines, then the music

    @property
    def music(self) -> str:
        return self.text.split("\nK:", 1)[-1].split("\n", 1)[-1] if "\nK:" in "\n" + self.text else ""

    @property
    def held_out(self) -> bool:
        return hashlib.sha256(self.music.encode()).digest()[0] < VALIDATION_SHARE


@dataclass
class Corpus:
    train: list[Tune]
    validation: list[Tune]
    skipped: Counter = field(default_factory=Counter)  # reason -> tunes

    def statistics(self, vocabulary_size: int) -> str:
        lines = [
            f"tunes: {len(self.train):,} training + {len(self.validation):,} validation (split by tune)",
            f"characters: {sum(len(t.text) for t in self.train):,} training + "
            f"{sum(len(t.text) for t in self.validation):,} validation (without <bos>/<eos>)",
            f"vocabulary: {vocabulary_size:,} tokens",
        ]
        return "\n".join(lines + [f"skipped: {count:,} x {reason}" for reason, count in self.skipped.most_common()])


def to_ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def clean_tune(lines: list[str]) -> str | None:
    """A tune's lines (from its X: line on) as the models see it, or None when it has no key or no music."""
    kept, header, title_seen = [], True, False
    joined, pending = [], ""
    for line in lines:
        line = to_ascii(line.rstrip())
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending)
    for line in joined:
        if not line.strip() or line.lstrip().startswith("%"):
            continue
        match = FIELD.match(line)
        if match and (header or not line[2:3].isspace() or match.group(1) in KEPT_FIELDS):
            letter = match.group(1)
            if letter not in KEPT_FIELDS or (letter == "T" and title_seen):
                continue
            title_seen |= letter == "T"
            value = line[2:].strip()
            kept.append(f"{letter}:{value}")
            header &= letter != "K"
            continue
        if header:
            continue  # free text before the key: not part of a tune
        music = QUOTED.sub("", line).rstrip()
        if music.strip():
            kept.append(music)
    if header or not kept or kept[-1].startswith("K:"):
        return None
    return "\n".join(kept)


def split_tunes(text: str) -> list[list[str]]:
    """The tunes of a tune book: each from an `X:` line to the next."""
    tunes, current = [], None
    for line in text.splitlines():
        if line.startswith("X:"):
            current = []
            tunes.append(current)
        elif current is not None:
            current.append(line)
    return tunes


def find_abc_files(folder: Path) -> list[Path]:
    files = []
    for root, _, names in os.walk(folder, followlinks=True):
        files += [Path(root) / name for name in names if name.lower().endswith(".abc")]
        if len(files) > MAX_FILES:
            raise DataError(f"{folder} holds more than {MAX_FILES:,} .abc files; point --data-dir at a smaller folder")
    return sorted(files, key=lambda path: path.relative_to(folder).as_posix())


def read_tunes(folder: Path, folders: list[str] | None = None) -> tuple[list[Tune], Counter]:
    """Every usable tune under `folder` (only its sub-folders `folders` when given), de-duplicated."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--data-dir {folder} is not a folder; give a folder of .abc tune books "
                        "(searched recursively), e.g. ../shared/datasets/abc")
    roots = [folder / name for name in folders] if folders else [folder]
    missing = [str(root) for root in roots if not root.is_dir()]
    if missing:
        raise DataError(f"{', '.join(missing)} not found: this preset reads the sub-folders {', '.join(folders)} "
                        f"of --data-dir")
    tunes, skipped, seen = [], Counter(), set()
    for root in roots:
        for path in find_abc_files(root):
            text = path.read_text(encoding="utf-8", errors="replace")
            for lines in split_tunes(text):
                cleaned = clean_tune(lines)
                if cleaned is None:
                    skipped["no key or no music"] += 1
                    continue
                if len(cleaned) > MAX_TUNE_CHARACTERS:
                    skipped[f"longer than {MAX_TUNE_CHARACTERS:,} characters"] += 1
                    continue
                tune = Tune(path.relative_to(folder).as_posix(), cleaned)
                if tune.music in seen:
                    skipped["the same music as an earlier tune"] += 1
                    continue
                seen.add(tune.music)
                tunes.append(tune)
    return tunes, skipped


def build_corpus(folder: Path, folders: list[str] | None = None) -> Corpus:
    tunes, skipped = read_tunes(folder, folders)
    train = [tune for tune in tunes if not tune.held_out]
    validation = [tune for tune in tunes if tune.held_out]
    if not train or not validation:
        raise DataError(f"{len(tunes)} usable tune(s) under {folder}: too few to hold some out for validation")
    return Corpus(train, validation, skipped)


def chunk_stream(tunes: list[list[int]], window: int) -> torch.Tensor:
    """<bos> tune <eos> <bos> tune <eos> ... cut into (chunks, window + 1) overlapping by one character, so every
    character is a prediction target exactly once; the last chunk is padded with <pad>."""
    stream = [index for ids in tunes for index in ids]
    count = max(1, -(-(len(stream) - 1) // window))
    padded = np.full(count * window + 1, PAD, dtype=np.int64)
    padded[:len(stream)] = stream
    starts = np.arange(count) * window
    return torch.from_numpy(padded[starts[:, None] + np.arange(window + 1)])


def book(tune: Tune) -> str:
    """The tune book (first folder under --data-dir) a tune comes from."""
    return tune.source.split("/")[0]


def to_splits(corpus: Corpus, vocabulary: list[str], window: int, description: str,
              repeats: dict[str, int] | None = None) -> DataSplits:
    """The chunked splits; the training tunes of a book named in `repeats` appear that many times in the
    training stream (the validation tunes, the copy index and the shipped corpus keep each tune once)."""
    codec = CharCodec(vocabulary)
    repeats = repeats or {}
    train_ids = [codec.encode(tune.text, tune=True) for tune in corpus.train
                 for _ in range(repeats.get(book(tune), 1))]
    validation_ids = [codec.encode(tune.text, tune=True) for tune in corpus.validation]
    return DataSplits(
        train=TensorDictDataset(input_ids=chunk_stream(train_ids, window)),
        validation=TensorDictDataset(input_ids=chunk_stream(validation_ids, window)),
        description=description,
        extras={
            "vocabulary": vocabulary,
            "train_texts": [tune.text for tune in corpus.train],
            "validation_texts": [tune.text for tune in corpus.validation],
            "validation_sources": [tune.source for tune in corpus.validation],
            "statistics": corpus.statistics(len(vocabulary)),
        },
    )


def load_tunes(data_dir: Path | None, preset: Preset) -> DataSplits:
    if data_dir is None:
        raise DataError("the ABC composer trains on tune books in ABC notation: pass --data-dir FOLDER "
                        "(any folder of .abc files, searched recursively, e.g. ../shared/datasets/abc)")
    folders = preset.training.options.get("folders")
    corpus = build_corpus(Path(data_dir), folders)
    vocabulary = CharCodec.build_vocabulary(tune.text for tune in corpus.train)
    print(f"ABC corpus {Path(data_dir).name}/:\n{corpus.statistics(len(vocabulary))}", flush=True)
    books = Counter(book(tune) for tune in corpus.train + corpus.validation)
    repeats = dict(preset.training.options.get("repeat_books") or {})
    unknown = sorted(set(repeats) - set(books))
    if unknown:
        raise DataError(f"this preset repeats the tune books {', '.join(unknown)}, which are not under {data_dir}")
    description = (
        f"{len(corpus.train) + len(corpus.validation):,} ABC tunes from {Path(data_dir).name}/ "
        f"({', '.join(f'{name}: {count:,}' for name, count in sorted(books.items()))}); {len(corpus.train):,} "
        f"training / {len(corpus.validation):,} validation tunes, split by tune; "
        f"{sum(len(t.text) for t in corpus.train):,} training characters, vocabulary {len(vocabulary)}"
        + "".join(f"; {name}'s training tunes {count} times in each pass" for name, count in sorted(repeats.items()))
    )
    return to_splits(corpus, vocabulary, preset.model.get("window", 100), description, repeats)


# ------------------------------------------------------------------ synthetic
def synthetic_tune(rng: np.random.Generator, index: int) -> str:
    """A made-up tune in valid ABC: a random walk on a scale, eighth notes, four bars a line."""
    key = ["C", "G", "D", "F"][int(rng.integers(4))]
    letters = "CDEFGABcdefgab"
    position, lines = int(rng.integers(3, 10)), []
    for _ in range(2):
        bars = []
        for _ in range(4):
            bar = ""
            for _ in range(8):
                position = int(np.clip(position + rng.integers(-2, 3), 0, len(letters) - 1))
                bar += letters[position]
            bars.append(bar[:4] + " " + bar[4:])
        lines.append("|".join(bars) + "|")
    return f"T:Synthetic {index}\nM:4/4\nL:1/8\nK:{key}\n" + "\n".join(lines)


def synthetic_tunes(preset: Preset, num_examples: int, seed: int) -> DataSplits:
    """Made-up tunes through the real cleaning, split and chunking: exactly `num_examples` training chunks."""
    rng = np.random.default_rng(seed)
    window = preset.model.get("window", 100)
    train, validation, index = [], [], 0
    while sum(len(t.text) + 2 for t in train) < num_examples * window + 1 or len(validation) < 4:
        tune = Tune(f"synthetic/{index}.abc", clean_tune(synthetic_tune(rng, index).splitlines()))
        (validation if tune.held_out or len(validation) < 4 and index % 4 == 0 else train).append(tune)
        index += 1
    corpus = Corpus(train, validation)
    vocabulary = CharCodec.build_vocabulary(t.text for t in train + validation)
    splits = to_splits(corpus, vocabulary, window, f"synthetic scale tunes ({num_examples} chunks)")
    splits.train = TensorDictDataset(input_ids=splits.train.fields["input_ids"][:num_examples])
    return splits


__all__ = ["Tune", "Corpus", "clean_tune", "split_tunes", "build_corpus", "chunk_stream", "load_tunes",
           "synthetic_tunes", "synthetic_tune", "LAB_FOLDER", "BOS", "EOS"]

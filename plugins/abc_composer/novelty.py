"""How much of a generated tune is copied from the training tunes: the share of its 8-note n-grams found in one.

Notes are read from the ABC text itself, not from music21, so the whole
training corpus (13,000 tunes) is indexed in a second: after the `K:` line,
quoted strings, decorations (`!trill!`, `+fermata+`) and grace notes (`{g}`)
are dropped, and each note is its written token: accidentals, letter, octave
marks and length (`^c'2`, `B/`, `z` rests included). An n-gram of such tokens
found verbatim in a training tune counts as copied; the index is the composer
plugin's (sorted 64-bit hashes, a binary search per n-gram).

The training tunes' notes travel with shipped weights in `abc_corpus.safetensors`,
with a few validation tunes' openings for the demo's "start from a tune" choice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ..lstm_composer.novelty import NoveltyIndex

CORPUS_FILE = "abc_corpus.safetensors"
NGRAM = 8
MAX_OPENINGS = 40
NOTE = re.compile(r"(?:\^{1,2}|_{1,2}|=)?[A-Ga-gz][,']*\d*/*\d*")
IGNORED = re.compile(r'"[^"]*"|![^!\n]*!|\+[^+\n]*\+|\{[^}]*\}')


def note_tokens(text: str) -> list[str]:
    """The written notes (and rests) of a tune's music, in order."""
    music = text.split("\nK:", 1)[-1].split("\n", 1)[-1] if "\nK:" in "\n" + text else ""
    lines = [line for line in music.splitlines() if not re.match(r"^[A-Za-z]:", line)]  # inline fields
    return NOTE.findall(IGNORED.sub(" ", "\n".join(lines)))


class NoteVocabulary:
    """Note token <-> small int, grown as the training tunes are read."""

    def __init__(self, tokens: list[str] | None = None):
        self.tokens = list(tokens or [])
        self.ids = {token: index for index, token in enumerate(self.tokens)}

    def encode(self, tokens: list[str], grow: bool = False) -> list[int]:
        ids = []
        for token in tokens:
            if token not in self.ids:
                if not grow:
                    ids.append(-1)  # never seen in training: no n-gram through it can be a copy
                    continue
                self.ids[token] = len(self.tokens)
                self.tokens.append(token)
            ids.append(self.ids[token])
        return ids


@dataclass
class CopyIndex:
    vocabulary: NoteVocabulary
    index: NoveltyIndex

    @classmethod
    def build(cls, train_texts: list[str]) -> "CopyIndex":
        vocabulary = NoteVocabulary()
        tunes = [vocabulary.encode(note_tokens(text), grow=True) for text in train_texts]
        return cls(vocabulary, NoveltyIndex.build(tunes, sizes=(NGRAM,)))

    def copy_share(self, text: str) -> float | None:
        """Share of the tune's 8-note n-grams found in a training tune; None when it has fewer than 8 notes."""
        ids = self.vocabulary.encode(note_tokens(text))
        hits = self.index.found([index if index >= 0 else 2**40 + position for position, index in enumerate(ids)],
                                NGRAM)
        return float(hits.mean()) if len(hits) else None

    def copied_mask(self, text: str) -> list[bool]:
        """For each note of the tune: does an 8-note n-gram through it occur in a training tune?"""
        ids = self.vocabulary.encode(note_tokens(text))
        hits = self.index.found([index if index >= 0 else 2**40 + position for position, index in enumerate(ids)],
                                NGRAM)
        mask = [False] * len(ids)
        for start in np.flatnonzero(hits):
            mask[start:start + NGRAM] = [True] * NGRAM
        return mask


# ------------------------------------------------------------------ the file beside the weights
@dataclass
class ShippedCorpus:
    copies: CopyIndex
    openings: dict[str, str]  # a validation tune's title -> its header and first line of music (never trained on)


def opening(text: str) -> str:
    """A tune's header and its first line of music: the demo's "start from a tune"."""
    lines = text.split("\n")
    header_end = next((index for index, line in enumerate(lines) if line.startswith("K:")), len(lines) - 1)
    return "\n".join(lines[:header_end + 2]) + "\n"


def save_corpus(folder: Path, train_texts: list[str], validation_texts: list[str]) -> Path:
    copies = CopyIndex.build(train_texts)
    tunes = [copies.vocabulary.encode(note_tokens(text)) for text in train_texts]
    # int16 holds any note vocabulary of a real corpus (a few thousand written notes) at half the bytes
    dtype = np.int16 if len(copies.vocabulary.tokens) <= np.iinfo(np.int16).max else np.int32
    flat = np.concatenate([np.asarray(ids, dtype=dtype) for ids in tunes]) if tunes else np.empty(0, dtype)
    offsets = np.cumsum([0, *(len(ids) for ids in tunes)]).astype(np.int64)
    openings = {}
    for text in validation_texts:
        title = next((line[2:].strip() for line in text.split("\n") if line.startswith("T:")), "") or "untitled"
        name = title if title not in openings else f"{title} ({len(openings)})"
        openings[name] = opening(text)
        if len(openings) == MAX_OPENINGS:
            break
    path = Path(folder) / CORPUS_FILE
    save_file({"train_notes": torch.from_numpy(flat), "train_offsets": torch.from_numpy(offsets)}, str(path),
              metadata={"note_tokens": json.dumps(copies.vocabulary.tokens), "openings": json.dumps(openings)})
    return path


def load_corpus(folder: Path) -> ShippedCorpus | None:
    path = Path(folder) / CORPUS_FILE
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    tensors = load_file(str(path))
    flat, offsets = tensors["train_notes"].numpy().astype(np.int64), tensors["train_offsets"].numpy()
    tunes = [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    vocabulary = NoteVocabulary(json.loads(metadata.get("note_tokens", "[]")))
    return ShippedCorpus(CopyIndex(vocabulary, NoveltyIndex.build(tunes, sizes=(NGRAM,))),
                         json.loads(metadata.get("openings", "{}")))


__all__ = ["note_tokens", "CopyIndex", "ShippedCorpus", "save_corpus", "load_corpus", "opening", "NGRAM"]

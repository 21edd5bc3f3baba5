"""Write the composer's MIDI corpus from the scores music21 ships with (`pip install music21`; no download).

    python -m plugins.lstm_composer.music21_corpus ~/data/midi                      # what `best` learnt from
    python -m plugins.lstm_composer.music21_corpus ~/data/midi-folk --sets folk    # what `lecture-04` learnt from
    python train.py lstm-composer --preset best --data-dir ~/data/midi

The shipped models learnt from this selection of music21's public corpus, converted with `score.write("midi")`:
the 408 four-part Bach chorales, the first 400 tunes of O'Neill's Music of Ireland (1850) and the first 300 of
Ryan's Mammoth Collection (1883); a score music21 cannot parse or convert is skipped. `--sets` also offers
Mozart's and Beethoven's string quartet movements. Each set is a folder; files are named after their source
(`bwv1.6.mid`; `<book>_<tune number>_<title>.mid` for tunes taken out of an ABC tune book).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# folder -> (music21 corpus folder, file pattern, most pieces to write or None for all)
SETS = {
    "bach-chorales": ("bach", "bwv*.mxl", None),
    "folk-oneills1850": ("oneills1850", "*.abc", 400),
    "folk-ryans-mammoth": ("ryansMammoth", "*.abc", 300),
    "mozart": ("mozart", "**/*.mxl", None),
    "string-quartets": ("beethoven", "**/*.mxl", 5),
}
GROUPS = {"best": ["bach-chorales", "folk-oneills1850", "folk-ryans-mammoth"],
          "folk": ["folk-oneills1850", "folk-ryans-mammoth"], "all": list(SETS)}


def pieces(path: Path):
    """(name, score) of each piece in a corpus file: a tune book (an Opus) gives one per tune, numbered from 0.

    Names are those of the shipped corpus (a piece's name decides its side of the training/validation split):
    `bwv1.6` for a chorale, `<folder>_<file>` for other single pieces, `<book>_<number>_<title>` for tunes."""
    from music21 import converter, stream

    parsed = converter.parse(path)
    if isinstance(parsed, stream.Opus) and len(parsed.scores) > 1:
        for number, score in enumerate(parsed.scores):
            title = (score.metadata.title if score.metadata else "") or "untitled"
            yield f"{path.stem}_{number:03d}_{re.sub(r'[^A-Za-z0-9.-]+', '_', title).strip('_')}", score
    else:
        score = parsed.scores[0] if isinstance(parsed, stream.Opus) else parsed
        yield (path.stem if path.parent.name == "bach" else f"{path.parent.name}_{path.stem}"), score


def write_set(folder: str, output: Path) -> tuple[int, int]:
    """Convert one set into `output/folder`; (pieces written, pieces skipped)."""
    import music21

    source, pattern, limit = SETS[folder]
    corpus = Path(music21.__file__).parent / "corpus" / source
    target = output / folder
    target.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    for path in sorted(corpus.glob(pattern)):
        if path.is_dir() or path.suffix in (".txt", ".py"):
            continue
        try:
            for name, score in pieces(path):
                if limit is not None and written >= limit:
                    return written, skipped
                try:
                    score.write("midi", fp=str(target / f"{name}.mid"))
                    written += 1
                except Exception:  # noqa: BLE001 - music21 cannot convert every score; the corpus skips it
                    skipped += 1
        except Exception:  # noqa: BLE001 - nor parse every file
            skipped += 1
    return written, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="the folder to write (then: train.py ... --data-dir OUTPUT)")
    parser.add_argument("--sets", default="best",
                        help=f"{', '.join(GROUPS)} or a comma-separated list of: {', '.join(SETS)} (default: best)")
    args = parser.parse_args(argv)
    chosen = GROUPS.get(args.sets) or [name.strip() for name in args.sets.split(",")]
    unknown = [name for name in chosen if name not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)} or {', '.join(GROUPS)}")
    for folder in chosen:
        written, skipped = write_set(folder, args.output)
        print(f"{args.output / folder}: {written} MIDI files ({skipped} skipped)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

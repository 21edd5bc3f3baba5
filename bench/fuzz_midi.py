"""Fuzz the composer's MIDI decoder with generated malformed files; every failure must be an UnusableMidiError.

    python bench/fuzz_midi.py                                   # 12,000 files from hand-made seeds
    python bench/fuzz_midi.py --files 20000 --data-dir ../shared/datasets/midi   # also mutate real files

Each file is a valid seed file damaged in one or more ways (truncated, bytes
flipped, inserted or deleted, chunk lengths and header fields rewritten,
absurd delta times and tempos, stray status bytes, huge meta and sysex
lengths, type 2 and SMPTE headers, drum-only and empty tracks) or plain
random bytes. It goes through `read_score` and both codecs' `ids_from_midi`,
as an uploaded primer would. The script prints how many were read, how many
were refused with a message, and how many raised anything else (the figure
that must be 0), with the slowest file's time, and exits 1 if any escaped.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.lstm_composer.midi_codec import (  # noqa: E402
    LectureCodec, Note, PerformanceCodec, UnusableMidiError, midi_bytes, notes_to_midi, read_score,
)


def variable_length(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def chunk(name: bytes, data: bytes, length: int | None = None) -> bytes:
    return name + struct.pack(">I", len(data) if length is None else length) + data


def header(midi_type: int = 1, tracks: int = 1, division: int = 480) -> bytes:
    return chunk(b"MThd", struct.pack(">HHH", midi_type & 0xFFFF, tracks & 0xFFFF, division & 0xFFFF))


def seed_files(data_dir: Path | None, rng: random.Random) -> list[bytes]:
    """Valid files to damage: hand-made tunes (types 0 and 1, running status, drums) and real ones."""
    seeds = []
    for index in range(8):
        notes = [Note(step * 6, 48 + rng.randrange(36), rng.choice((3, 6, 12, 24))) for step in range(40)]
        seeds.append(midi_bytes(notes_to_midi(notes, 40, 480, rng.uniform(40, 200), index)))
    events = b"".join(variable_length(rng.choice((0, 120, 240))) + bytes([0x90 | channel, 40 + i % 40, 90])
                      for i, channel in enumerate([0, 1, 9] * 20))
    events += b"".join(variable_length(60) + bytes([0x80 | channel, 40 + i % 40, 0])
                       for i, channel in enumerate([0, 1, 9] * 20))
    seeds.append(header(0, 1) + chunk(b"MTrk", events + b"\x00\xff\x2f\x00"))
    running = b"\x00\x90\x3c\x64\x00\x40\x64\x83\x60\x3c\x00\x00\x40\x00\x00\xff\x2f\x00"
    seeds.append(header(1, 2) + chunk(b"MTrk", b"\x00\xff\x51\x03\x07\xa1\x20\x00\xff\x2f\x00") + chunk(b"MTrk", running))
    if data_dir is not None:
        files = sorted(Path(data_dir).rglob("*.mid"))
        for path in rng.sample(files, min(40, len(files))):
            seeds.append(path.read_bytes())
    return seeds


def damage(data: bytes, rng: random.Random) -> bytes:
    """One random kind of damage to a MIDI file's bytes."""
    data = bytearray(data)
    kind = rng.randrange(14)
    if kind == 0 and data:  # truncate anywhere
        return bytes(data[:rng.randrange(len(data))])
    if kind == 1 and data:  # flip a few bytes
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 2:  # insert random bytes
        position = rng.randrange(len(data) + 1)
        data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == 3 and len(data) > 2:  # delete a run of bytes
        start = rng.randrange(len(data) - 1)
        del data[start:start + rng.randint(1, 16)]
    elif kind == 4 and len(data) >= 14:  # rewrite header fields: type, track count, division (SMPTE too)
        field = rng.choice((8, 10, 12))
        data[field:field + 2] = struct.pack(">H", rng.choice((0, 1, 2, 3, 0xFFFF, 0x8000, 0xE728, rng.randrange(65536))))
    elif kind == 5:  # rewrite a chunk length
        positions = [i for i in range(len(data) - 8) if data[i:i + 4] in (b"MThd", b"MTrk")]
        if positions:
            position = rng.choice(positions) + 4
            data[position:position + 4] = struct.pack(">I", rng.choice((0, 1, 5, 2**31, 2**32 - 1, rng.randrange(2**20))))
    elif kind == 6:  # an absurd delta time before the end of the first track
        position = data.find(b"\xff\x2f\x00")
        if position > 0:
            data[position - 1:position - 1] = variable_length(rng.choice((2**27, 2**28 - 1, 10**6)))
    elif kind == 7:  # an absurd tempo
        tempo = rng.choice((0, 1, 2, 16_777_215, rng.randrange(2**24)))
        track = data.find(b"MTrk")
        if track >= 0:
            data[track + 8:track + 8] = b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big")
    elif kind == 8:  # a stray status byte, or running status with no status before it
        track = data.find(b"MTrk")
        if track >= 0:
            data[track + 8:track + 8] = rng.choice((b"\x00\x3c\x64", b"\x00\xf4\x01", b"\x00\xf8", b"\x00\xfd"))
    elif kind == 9:  # a meta or sysex event claiming a huge length
        track = data.find(b"MTrk")
        if track >= 0:
            data[track + 8:track + 8] = b"\x00" + rng.choice((b"\xff\x01", b"\xf0", b"\xf7")) + variable_length(
                rng.choice((2**21, 2**27, 10**6)))
    elif kind == 10:  # many tracks claimed, few present
        return bytes(header(1, rng.randrange(2, 65536)) + data[14:])
    elif kind == 11:  # random bytes after a valid-looking header
        return header(rng.randrange(3), rng.randrange(1, 4)) + bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    elif kind == 12:  # pure noise, sometimes empty
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    else:  # a track of zero-length notes and note-offs without note-ons
        events = b"".join(b"\x00" + bytes([0x90, n, 64]) + b"\x00" + bytes([0x80, n, 0]) + b"\x00" + bytes([0x80, n + 1, 0])
                          for n in range(30, 60))
        return header(0, 1) + chunk(b"MTrk", events + b"\x00\xff\x2f\x00")
    return bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=12_000, help="malformed files to try (default 12,000)")
    parser.add_argument("--data-dir", type=Path, help="a folder of real .mid files to damage as well")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seeds = seed_files(args.data_dir, rng)
    performance = PerformanceCodec()
    lecture = LectureCodec(LectureCodec.build_vocabulary(["[60]", "[60, 64, 67]"]))
    outcomes, reasons, escaped = Counter(), Counter(), []
    slowest = (0.0, b"")
    started = time.perf_counter()
    for index in range(args.files):
        data = rng.choice(seeds)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            data = damage(data, rng)
        began = time.perf_counter()
        try:
            read_score(data)
            performance.ids_from_midi(data)
            try:
                lecture.ids_from_midi(data)
            except UnusableMidiError:
                pass  # most chords are not in this two-chord vocabulary: refused, as it should be
            outcomes["read"] += 1
        except UnusableMidiError as error:
            outcomes["refused"] += 1
            reasons[str(error).split(" (")[0][:70]] += 1
        except Exception:  # noqa: BLE001 - counting exactly these is the point of the fuzzer
            outcomes["escaped"] += 1
            escaped.append((index, traceback.format_exc(limit=3)))
        elapsed = time.perf_counter() - began
        if elapsed > slowest[0]:
            slowest = (elapsed, data)
    total = time.perf_counter() - started
    print(f"{args.files:,} malformed MIDI files through read_score and both codecs in {total:.1f} s "
          f"({1e3 * total / args.files:.2f} ms each, slowest {1e3 * slowest[0]:.0f} ms for {len(slowest[1]):,} bytes)")
    print(f"  read (damage left a playable file): {outcomes['read']:,}")
    print(f"  refused with UnusableMidiError:     {outcomes['refused']:,}")
    print(f"  uncaught exceptions:                {outcomes['escaped']:,}")
    print("  most common messages:")
    for reason, count in reasons.most_common(8):
        print(f"    {count:6,}  {reason}")
    for index, trace in escaped[:5]:
        print(f"--- file {index}:\n{trace}")
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())

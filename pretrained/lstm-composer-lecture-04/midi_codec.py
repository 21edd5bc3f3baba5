"""MIDI files <-> token ids for the LSTM composer; travels with the model (mido is its only dependency).

Two codecs share one MIDI reader:

- `LectureCodec` is the lecture's `midi_phraser.py`: one "chord" token per
  distinct note-onset tick, the sorted pitches starting there (the highest
  `maxnotes` when > 0); rhythm is dropped and decoding writes each chord for
  a fixed 120 ticks.
- `PerformanceCodec` keeps the rhythm: notes on a grid of `steps_per_beat`
  steps per quarter note, written as `shift_<steps>` (advance the clock),
  `note_<pitch>` and `dur_<steps>` tokens. Time is counted in beats, so tempo
  changes in a file leave its rhythm intact; the written file uses one tempo.

What the reader accepts is bounded (file size, notes, length, tempo); any file
it cannot use raises `UnusableMidiError`, a `ValueError` whose message is fit to
show a user. Nothing else escapes `read_score`, whatever bytes it is given.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import NamedTuple

import mido

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NOTES = 100_000
MAX_BEATS = 50_000  # about 7 hours at 120 BPM
MIN_TEMPO_BPM, MAX_TEMPO_BPM = 10.0, 1000.0
DRUM_CHANNEL = 9  # General MIDI channel 10: unpitched percussion
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")
PAD, BOS, EOS = 0, 1, 2


class UnusableMidiError(ValueError):
    """This MIDI file cannot be used; `str(error)` says why in words fit for the person who sent it."""


class Note(NamedTuple):
    onset: int  # in ticks (of a Score) or grid steps (of a codec)
    pitch: int
    duration: int
    channel: int = 0
    velocity: int = 64


@dataclass
class Score:
    """The notes of a MIDI file, in its own ticks, with what is needed to place them in time."""

    notes: list[Note]
    ticks_per_beat: int
    tempos: list[tuple[int, int]]  # (tick, microseconds per beat), sorted; empty means 120 BPM
    midi_type: int = 1
    drum_notes: int = 0  # notes dropped because they were on the drum channel

    @property
    def beats(self) -> float:
        end = max((note.onset + note.duration for note in self.notes), default=0)
        return end / self.ticks_per_beat

    def seconds(self) -> float:
        """Playing time following the tempo map (120 BPM until the first tempo event)."""
        end = max((note.onset + note.duration for note in self.notes), default=0)
        seconds, tick, tempo = 0.0, 0, 500_000
        for change_tick, change_tempo in self.tempos:
            if change_tick >= end:
                break
            seconds += (change_tick - tick) * tempo / 1e6 / self.ticks_per_beat
            tick, tempo = change_tick, change_tempo
        return seconds + (end - tick) * tempo / 1e6 / self.ticks_per_beat


# --------------------------------------------------------------------------- reading
def load_midi(source) -> mido.MidiFile:
    """Parse `source` (bytes, a path or a `mido.MidiFile`) with mido, bounded in size.

    Every parsing failure becomes `UnusableMidiError`: mido raises many kinds
    of exception on damaged files (OSError, EOFError, KeyError, ValueError...).
    """
    if isinstance(source, mido.MidiFile):
        return source
    if isinstance(source, (str, os.PathLike)):
        try:
            size = os.path.getsize(source)
            if size > MAX_FILE_BYTES:
                raise UnusableMidiError(_too_big(size))
            with open(source, "rb") as handle:
                source = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise UnusableMidiError(f"The MIDI file could not be read ({error.strerror or error}).") from None
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise UnusableMidiError(f"Expected MIDI file bytes or a path, got {type(source).__name__}.")
    data = bytes(source)
    if not data:
        raise UnusableMidiError("The MIDI file is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise UnusableMidiError(_too_big(len(data)))
    if not data.startswith(b"MThd"):
        raise UnusableMidiError("This is not a MIDI file: Standard MIDI Files start with 'MThd'.")
    try:
        return mido.MidiFile(file=io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - any parser failure means the same thing: unusable input
        raise UnusableMidiError(f"The MIDI file is damaged or truncated and cannot be read "
                                f"({type(error).__name__}: {str(error)[:120]}).") from None


def _too_big(size: int) -> str:
    return f"The MIDI file is {size / 1e6:.1f} MB; at most {MAX_FILE_BYTES / 1e6:.0f} MB are accepted."


def read_score(source, keep_drums: bool = False) -> Score:
    """All pitched notes of a MIDI file (types 0 and 1), merged across tracks and channels.

    As in the lecture's phraser: a note runs from a `note_on` to the next
    `note_off` (or `note_on` with velocity 0) of the same channel and key,
    notes of zero length are dropped and a note left open ends with its
    track. Unlike the phraser, a second `note_on` of a sounding key ends the
    first note and starts a new one (a re-strike), instead of only ending it.
    """
    midi = load_midi(source)
    if midi.type == 2:
        raise UnusableMidiError("This is a type 2 MIDI file (independent sequences); only types 0 and 1 are supported.")
    if not isinstance(midi.ticks_per_beat, int) or midi.ticks_per_beat <= 0:
        raise UnusableMidiError("This MIDI file counts time in SMPTE frames; only files that count ticks per "
                                "beat are supported.")
    notes: list[Note] = []
    tempos: list[tuple[int, int]] = []
    drum_notes = 0
    for track in midi.tracks:
        tick = 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, key) -> (onset, velocity)

        def close(key: tuple[int, int], end: int) -> None:
            nonlocal drum_notes
            onset, velocity = sounding.pop(key)
            if end > onset:
                if key[0] == DRUM_CHANNEL and not keep_drums:
                    drum_notes += 1
                else:
                    notes.append(Note(onset, key[1], end - onset, key[0], velocity))

        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0:
                key = (message.channel, message.note)
                if key in sounding:
                    close(key, tick)
                sounding[key] = (tick, message.velocity)
            elif message.type in ("note_off", "note_on"):
                key = (message.channel, message.note)
                if key in sounding:
                    close(key, tick)
            elif message.type == "set_tempo":
                tempos.append((tick, message.tempo))
            if len(notes) > MAX_NOTES:
                raise UnusableMidiError(f"The MIDI file has more than {MAX_NOTES:,} notes; "
                                        "this demo accepts shorter pieces.")
        for key in list(sounding):
            close(key, tick)
    tempos.sort()
    for _, tempo in tempos:
        if tempo <= 0:
            raise UnusableMidiError("The MIDI file sets a tempo of zero microseconds per beat, which cannot be played.")
        bpm = 60e6 / tempo
        if not MIN_TEMPO_BPM <= bpm <= MAX_TEMPO_BPM:
            raise UnusableMidiError(f"The MIDI file sets a tempo of {bpm:.4g} BPM; tempos between "
                                    f"{MIN_TEMPO_BPM:g} and {MAX_TEMPO_BPM:g} BPM are accepted.")
    notes.sort()
    score = Score(notes, midi.ticks_per_beat, tempos, midi.type, drum_notes)
    if not notes:
        if drum_notes:
            raise UnusableMidiError("The MIDI file has only drum notes (channel 10); a melody needs pitched notes.")
        raise UnusableMidiError("The MIDI file has no notes.")
    if score.beats > MAX_BEATS:
        raise UnusableMidiError(f"The MIDI file lasts {score.beats:,.0f} beats; at most {MAX_BEATS:,} are accepted.")
    return score


# --------------------------------------------------------------------------- writing
def notes_to_midi(notes: list[Note], ticks_per_step: int, ticks_per_beat: int, tempo_bpm: float,
                  program: int) -> mido.MidiFile:
    """One track, one channel: notes given in grid steps, written with `ticks_per_step` ticks per step.

    A note that would still sound when the same key is struck again is cut at
    the new onset (one channel cannot sound one key twice); offs are written
    before ons at the same tick so that repeated notes stay separate.
    """
    if not MIN_TEMPO_BPM <= tempo_bpm <= MAX_TEMPO_BPM:
        raise ValueError(f"tempo_bpm must lie in [{MIN_TEMPO_BPM:g}, {MAX_TEMPO_BPM:g}], got {tempo_bpm}")
    if not 0 <= program <= 127:
        raise ValueError(f"program must be a General MIDI program 0-127, got {program}")
    events = []  # (tick, 0 = off / 1 = on, pitch, velocity)
    for note in canonical_notes(notes):
        events.append((note.onset * ticks_per_step, 1, note.pitch, note.velocity))
        events.append(((note.onset + note.duration) * ticks_per_step, 0, note.pitch, 0))
    events.sort()
    track = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
        mido.Message("program_change", program=program, channel=0, time=0),
    ])
    now = 0
    for tick, is_on, pitch, velocity in events:
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity if is_on else 0, channel=0, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat, tracks=[track])


def canonical_notes(notes: list[Note]) -> list[Note]:
    """Notes as one channel can play them: one note per (onset, key), the longest; same-key overlaps cut."""
    longest: dict[tuple[int, int], Note] = {}
    for note in notes:
        key = (note.onset, note.pitch)
        if key not in longest or note.duration > longest[key].duration:
            longest[key] = note
    ordered = sorted(longest.values(), key=lambda note: (note.pitch, note.onset))
    result = []
    for index, note in enumerate(ordered):
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        if following is not None and following.pitch == note.pitch and note.onset + note.duration > following.onset:
            note = note._replace(duration=following.onset - note.onset)
        result.append(note)
    return sorted(result)


def midi_bytes(midi: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- codecs
class Codec:
    """Token strings <-> ids, shared by both codecs. Ids 0, 1, 2 are <pad>, <bos> and <eos>."""

    name = ""

    def __init__(self, vocabulary: list[str]):
        if list(vocabulary[: len(SPECIAL_TOKENS)]) != list(SPECIAL_TOKENS):
            raise ValueError(f"a vocabulary starts with {SPECIAL_TOKENS}, got {list(vocabulary[:3])}")
        self.vocabulary = list(vocabulary)
        self.token_to_id = {token: index for index, token in enumerate(self.vocabulary)}
        if len(self.token_to_id) != len(self.vocabulary):
            raise ValueError("the vocabulary has repeated tokens")

    def __len__(self) -> int:
        return len(self.vocabulary)

    def tokens_from_score(self, score: Score) -> list[str]:
        raise NotImplementedError

    def midi_from_tokens(self, tokens: list[str], tempo_bpm: float, program: int) -> mido.MidiFile:
        raise NotImplementedError

    def ids_from_tokens(self, tokens: list[str]) -> tuple[list[int], int]:
        """(ids of the known tokens, number of tokens not in the vocabulary and left out)."""
        ids = [self.token_to_id[token] for token in tokens if token in self.token_to_id]
        return ids, len(tokens) - len(ids)

    def tokens_from_ids(self, ids) -> list[str]:
        """Token strings of `ids`, without special tokens (a piece ends at <eos>)."""
        tokens = []
        for index in ids:
            index = int(index)
            if index == EOS:
                break
            if len(SPECIAL_TOKENS) <= index < len(self.vocabulary):
                tokens.append(self.vocabulary[index])
        return tokens

    def ids_from_midi(self, source, add_bos: bool = True, add_eos: bool = False) -> list[int]:
        """A MIDI file (bytes, path or mido.MidiFile) as model input ids; raises UnusableMidiError."""
        ids, unknown = self.ids_from_tokens(self.tokens_from_score(read_score(source)))
        if not ids:
            raise UnusableMidiError(f"None of the file's {unknown:,} chords is in this model's vocabulary.")
        return [BOS] * add_bos + ids + [EOS] * add_eos

    def midi_from_ids(self, ids, tempo_bpm: float = 120.0, program: int = 0) -> mido.MidiFile:
        return self.midi_from_tokens(self.tokens_from_ids(ids), tempo_bpm, program)

    def notes_from_ids(self, ids) -> tuple[list[Note], int]:
        """(notes in grid steps, steps per beat): what a piano roll or a synthesiser needs."""
        raise NotImplementedError


class LectureCodec(Codec):
    """The lecture's chords: rhythm dropped, one token per distinct onset tick.

    A chord token is the lecture's `str(list)` of pitches, e.g. "[45, 49, 52]".
    As in its `np.unique(notes, axis=0)`, two notes of one pitch but different
    lengths at the same onset both appear. The lecture's loop `range(len(ticks)-1)`
    also dropped each file's last chord; that slip is not copied.
    """

    name = "lecture"
    ticks_per_chord = 120  # at 480 ticks per beat: a sixteenth note
    ticks_per_beat = 480

    def __init__(self, vocabulary: list[str], maxnotes: int = 0):
        super().__init__(vocabulary)
        if maxnotes < 0:
            raise ValueError(f"maxnotes must be >= 0, got {maxnotes}")
        self.maxnotes = maxnotes

    def tokens_from_score(self, score: Score) -> list[str]:
        by_onset: dict[int, set[tuple[int, int]]] = {}
        for note in score.notes:
            by_onset.setdefault(note.onset, set()).add((note.pitch, note.duration))
        chords = []
        for onset in sorted(by_onset):
            pitches = [pitch for pitch, _ in sorted(by_onset[onset])]
            chords.append(str(pitches[-self.maxnotes:] if self.maxnotes > 0 else pitches))
        return chords

    @staticmethod
    def pitches(token: str) -> list[int]:
        """"[45, 49, 52]" -> [45, 49, 52] (the lecture used eval; this only accepts numbers 0-127)."""
        inner = token.strip()[1:-1]
        pitches = [int(part) for part in inner.split(",") if part.strip()]
        if not all(0 <= pitch <= 127 for pitch in pitches):
            raise ValueError(f"not a chord token: {token!r}")
        return pitches

    def notes_from_ids(self, ids) -> tuple[list[Note], int]:
        notes = []
        for step, token in enumerate(self.tokens_from_ids(ids)):
            notes += [Note(step, pitch, 1, 0, 64) for pitch in sorted(set(self.pitches(token)))]
        return notes, self.ticks_per_beat // self.ticks_per_chord

    def midi_from_tokens(self, tokens: list[str], tempo_bpm: float = 120.0, program: int = 46) -> mido.MidiFile:
        """Each chord sounds for 120 ticks, velocity 64, as the lecture's encode_midi (program 46 = harp there)."""
        notes = []
        for step, token in enumerate(tokens):
            notes += [Note(step, pitch, 1, 0, 64) for pitch in sorted(set(self.pitches(token)))]
        return notes_to_midi(notes, self.ticks_per_chord, self.ticks_per_beat, tempo_bpm, program)

    @staticmethod
    def build_vocabulary(chords) -> list[str]:
        """The lecture's `sorted(set(data))`, after the special tokens."""
        return [*SPECIAL_TOKENS, *sorted(set(chords))]


class PerformanceCodec(Codec):
    """Notes on a beat grid: `shift_<s>` advances the clock by s steps, then `note_<p>` `dur_<d>` per note.

    Notes starting together are written lowest pitch first. Drums are left
    out, all other tracks and channels are merged into one part (the
    instrument is chosen when decoding). Durations longer than
    `max_duration_steps` are shortened to it; longer rests take several shifts.
    """

    name = "performance"
    velocity = 80

    def __init__(self, steps_per_beat: int = 12, max_shift_steps: int = 48, max_duration_steps: int = 96):
        if steps_per_beat < 1 or max_shift_steps < 1 or max_duration_steps < 1:
            raise ValueError("steps_per_beat, max_shift_steps and max_duration_steps must be positive")
        self.steps_per_beat = steps_per_beat
        self.max_shift_steps = max_shift_steps
        self.max_duration_steps = max_duration_steps
        super().__init__(self.build_vocabulary(max_shift_steps, max_duration_steps))
        self.note_ids = [self.token_to_id[f"note_{pitch}"] for pitch in range(128)]

    @staticmethod
    def build_vocabulary(max_shift_steps: int, max_duration_steps: int) -> list[str]:
        return [*SPECIAL_TOKENS, *(f"shift_{steps}" for steps in range(1, max_shift_steps + 1)),
                *(f"note_{pitch}" for pitch in range(128)),
                *(f"dur_{steps}" for steps in range(1, max_duration_steps + 1))]

    def grid_notes(self, score: Score) -> list[Note]:
        """The score's notes in grid steps, as this codec stores them (quantised, clipped, canonical)."""
        scale = self.steps_per_beat / score.ticks_per_beat
        notes = []
        for note in score.notes:
            onset = round(note.onset * scale)
            end = round((note.onset + note.duration) * scale)
            duration = min(max(1, end - onset), self.max_duration_steps)
            notes.append(Note(onset, note.pitch, duration, 0, self.velocity))
        return canonical_notes(notes)

    def tokens_from_notes(self, notes: list[Note]) -> list[str]:
        tokens, now = [], 0
        for note in notes:
            gap = note.onset - now
            while gap > 0:
                step = min(gap, self.max_shift_steps)
                tokens.append(f"shift_{step}")
                gap -= step
            now = note.onset
            tokens += [f"note_{note.pitch}", f"dur_{note.duration}"]
        return tokens

    def tokens_from_score(self, score: Score) -> list[str]:
        return self.tokens_from_notes(self.grid_notes(score))

    def notes_from_tokens(self, tokens: list[str]) -> list[Note]:
        """Forgiving: a note without a duration lasts one beat, a stray duration is ignored."""
        notes, now, pending = [], 0, None
        for token in tokens:
            kind, _, value = token.partition("_")
            if kind == "dur" and pending is not None:
                notes.append(Note(now, pending, int(value), 0, self.velocity))
                pending = None
                continue
            if pending is not None:
                notes.append(Note(now, pending, self.steps_per_beat, 0, self.velocity))
                pending = None
            if kind == "shift":
                now += int(value)
            elif kind == "note":
                pending = int(value)
        if pending is not None:
            notes.append(Note(now, pending, self.steps_per_beat, 0, self.velocity))
        return canonical_notes(notes)

    def notes_from_ids(self, ids) -> tuple[list[Note], int]:
        return self.notes_from_tokens(self.tokens_from_ids(ids)), self.steps_per_beat

    def midi_from_tokens(self, tokens: list[str], tempo_bpm: float = 120.0, program: int = 0) -> mido.MidiFile:
        ticks_per_step = 480 // self.steps_per_beat if 480 % self.steps_per_beat == 0 else 40
        return notes_to_midi(self.notes_from_tokens(tokens), ticks_per_step, ticks_per_step * self.steps_per_beat,
                             tempo_bpm, program)

    def transposition_table(self, shifts: range) -> list[list[int]]:
        """For each shift, an id -> id map moving every note by that many semitones (kept within 0-127)."""
        tables = []
        for shift in shifts:
            table = list(range(len(self.vocabulary)))
            for pitch, index in enumerate(self.note_ids):
                table[index] = self.note_ids[min(127, max(0, pitch + shift))]
            tables.append(table)
        return tables


def codec_from_config(config) -> Codec:
    """The codec a `LstmComposerConfig` describes."""
    if config.codec == "performance":
        codec = PerformanceCodec(config.steps_per_beat, config.max_shift_steps, config.max_duration_steps)
        if codec.vocabulary != list(config.vocabulary):
            raise ValueError("the config's vocabulary does not match its performance codec settings")
        return codec
    if config.codec == "lecture":
        return LectureCodec(list(config.vocabulary), config.maxnotes)
    raise ValueError(f"unknown codec {config.codec!r}; choose 'performance' or 'lecture'")


__all__ = ["UnusableMidiError", "Note", "Score", "read_score", "load_midi", "notes_to_midi", "canonical_notes",
           "midi_bytes", "Codec", "LectureCodec", "PerformanceCodec", "codec_from_config",
           "SPECIAL_TOKENS", "PAD", "BOS", "EOS", "MAX_FILE_BYTES", "MAX_NOTES"]

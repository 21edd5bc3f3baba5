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

What the reader accepts is bounded (file size, tracks, events of each kind,
notes, length in beats and seconds, tempo). The events are counted straight
from the file's bytes (`count_events`) before mido builds a message object for
each, so a flood of events is refused in a fraction of a second and without
memory to speak of. Any file the reader cannot use raises `UnusableMidiError`,
a `ValueError` whose message is fit to show a user. Nothing else escapes
`read_score`, whatever bytes it is given.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import NamedTuple

import mido

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NOTES = 100_000
MAX_BEATS = 50_000  # about 7 hours at 120 BPM
MAX_SECONDS = 4 * 3600  # playing time along the tempo map; the corpus's longest piece lasts 1,161 s (19 minutes)
MIN_TEMPO_BPM, MAX_TEMPO_BPM = 10.0, 1000.0

# Bounds on the events a file holds, counted from its bytes before mido parses it (mido spends about
# 5 microseconds and 270 bytes on each message it builds: 1.6 million control changes took seconds and
# hundreds of MB). The figures leave a wide margin over the real corpus (../shared/datasets/midi:
# 1,127 files, the largest Beethoven's Grosse Fuge op. 133 with 18,224 events and 9,019 notes) and
# over what real-world files from sequencers and recorded performances carry.
MAX_TRACKS = 1_024  # corpus: at most 16; big orchestral exports have about a hundred
MAX_NOTE_EVENTS = 250_000  # note-ons and note-offs; corpus: 18,128. A note is two events: 2 x MAX_NOTES plus
#                            room for zero-length notes and stray note-offs, which MAX_NOTES does not count
MAX_CONTROL_CHANGES = 100_000  # corpus: 0 (music21 writes none); pedal and expression curves of a recorded
#                                performance come to tens of thousands
MAX_CHANNEL_MESSAGES = 100_000  # program changes, pitch bends and aftertouch; corpus: 42; dense bend curves
#                                 come to tens of thousands
MAX_TEMPO_CHANGES = 20_000  # corpus: 5; one change per beat of a two-hour piece at 120 BPM is 14,400
MAX_META_EVENTS = 20_000  # other meta events: names, text, lyrics, markers, signatures, end of track;
#                           corpus: 255; a karaoke file has one lyric per syllable, a few thousand
MAX_SYSTEM_MESSAGES = 2_000  # sysex and other system messages; corpus: 0; General MIDI and synthesiser set-up
#                              sends a few to a few hundred
MAX_EVENTS = 300_000  # all events together; corpus: 18,224; mido builds this many in about 1.5 s and 80 MB
MAX_DATA_BYTES = 256 * 1024  # bytes inside meta and sysex events, which mido reads one at a time;
#                              corpus: 2,906; lyrics and set-up dumps take some KB
MAX_NUMBER_BYTES = 4  # a delta time or length in the file; the standard allows 4 bytes (mido reads any
#                       number, at a cost growing with the square of its length: about an hour for 4 MB)
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
    """Parse `source` (bytes, a path or a `mido.MidiFile`) with mido, bounded in size and content.

    Before mido parses the bytes, `count_events` checks the header and counts
    the events against the bounds above, so that what mido builds is bounded.
    Every parsing failure becomes `UnusableMidiError`: mido raises many kinds
    of exception on damaged files (OSError, EOFError, KeyError, ValueError...).
    """
    if isinstance(source, mido.MidiFile):
        check_midi_file(source)
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
    count_events(data)
    try:
        return mido.MidiFile(file=io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - any parser failure means the same thing: unusable input
        raise UnusableMidiError(f"The MIDI file is damaged or truncated and cannot be read "
                                f"({type(error).__name__}: {str(error)[:120]}).") from None


def _too_big(size: int) -> str:
    return f"The MIDI file is {size / 1e6:.1f} MB; at most {MAX_FILE_BYTES / 1e6:.0f} MB are accepted."


# The kinds of event count_events tells apart, in the order of its counts: (limit, words for a message).
EVENT_KINDS = {
    "note_events": (MAX_NOTE_EVENTS, "note-on and note-off events"),
    "control_changes": (MAX_CONTROL_CHANGES, "control changes"),
    "channel_messages": (MAX_CHANNEL_MESSAGES, "program changes, pitch bends and aftertouch messages"),
    "tempo_changes": (MAX_TEMPO_CHANGES, "tempo changes"),
    "meta_events": (MAX_META_EVENTS, "meta events such as names, text, lyrics and markers"),
    "system_messages": (MAX_SYSTEM_MESSAGES, "system exclusive and other system messages"),
}
_NOTE, _CONTROL, _CHANNEL, _TEMPO, _META, _SYSTEM = range(len(EVENT_KINDS))
_LIMITS = tuple(limit for limit, _ in EVENT_KINDS.values())
_WORDS = tuple(words for _, words in EVENT_KINDS.values())
# What mido does with each status byte of a track (its SPEC_BY_STATUS): the kind of message and how
# many data bytes follow; kind -1 where mido refuses the byte. Sysex (0xF0, 0xF7) and meta events
# (0xFF) carry their own length and are handled apart.
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}


def _status_table() -> tuple[tuple[int, ...], tuple[int, ...]]:
    kinds, data_bytes = [-1] * 256, [0] * 256
    for status in range(0x80, 0xF0):
        high = status & 0xF0
        kinds[status] = _NOTE if high in (0x80, 0x90) else _CONTROL if high == 0xB0 else _CHANNEL
        data_bytes[status] = 1 if high in (0xC0, 0xD0) else 2
    for status, count in _SYSTEM_DATA_BYTES.items():
        kinds[status], data_bytes[status] = _SYSTEM, count
    return tuple(kinds), tuple(data_bytes)


_KIND_OF_STATUS, _DATA_BYTES_OF_STATUS = _status_table()


def _too_many(kind: int) -> UnusableMidiError:
    limit = _LIMITS[kind]
    return UnusableMidiError(f"The MIDI file has more than {limit:,} {_WORDS[kind]}; at most {limit:,} are accepted.")


def _check_header(midi_type: int, tracks: int, division: int) -> None:
    if midi_type == 2:
        raise UnusableMidiError("This is a type 2 MIDI file (independent sequences); only types 0 and 1 are supported.")
    if division == 0:
        raise UnusableMidiError("The MIDI file's header says its ticks per beat is 0, so its rhythm cannot be read.")
    if division < 0:
        raise UnusableMidiError("This MIDI file counts time in SMPTE frames; only files that count ticks per "
                                "beat are supported.")
    if tracks > MAX_TRACKS:
        raise UnusableMidiError(f"The MIDI file has {tracks:,} tracks; at most {MAX_TRACKS:,} are accepted.")


def _too_many_events() -> UnusableMidiError:
    return UnusableMidiError(f"The MIDI file has more than {MAX_EVENTS:,} events; at most {MAX_EVENTS:,} are accepted.")


def _number_too_long() -> UnusableMidiError:
    return UnusableMidiError(f"The MIDI file is damaged and cannot be read: a time or a length in it takes more "
                             f"than {MAX_NUMBER_BYTES} bytes, the most the MIDI standard allows.")


class _MidoRefuses(Exception):
    """count_events reached bytes that mido will refuse: mido, which stops there too, says why."""


def count_events(data: bytes) -> dict[str, int]:
    """Count a Standard MIDI File's tracks and events by kind, straight from its bytes, refusing floods.

    The walk follows mido's reader (the header's track count, chunk lengths,
    running status as mido applies it, sysex and meta lengths) without
    building anything, and raises `UnusableMidiError` as soon as a count
    passes its bound, or when the header describes a file `read_score` cannot
    use. Where the bytes are damaged it stops and leaves the verdict to mido,
    which fails at the same place, having built no more messages than were
    counted. Returns the counts: "tracks", "events" (all kinds), "data_bytes"
    (inside meta and sysex events) and one per kind of EVENT_KINDS.
    """
    counts = [0] * len(EVENT_KINDS)
    tracks_read = events = payload = 0
    try:
        if data[:4] != b"MThd" or len(data) < 14 or int.from_bytes(data[4:8], "big") < 6:
            raise _MidoRefuses
        midi_type, tracks, division = struct.unpack(">hhh", data[8:14])  # signed, as mido reads them
        _check_header(midi_type, tracks, division)
        position = 8 + int.from_bytes(data[4:8], "big")
        kind_of, data_bytes_of, limits = _KIND_OF_STATUS, _DATA_BYTES_OF_STATUS, _LIMITS
        for _ in range(tracks):  # none when the header's count is negative, as in mido
            if data[position:position + 4] != b"MTrk" or position + 8 > len(data):
                raise _MidoRefuses
            end = position + 8 + int.from_bytes(data[position + 4:position + 8], "big")
            position += 8
            tracks_read += 1
            last_status = -1
            while position != end:  # as in mido, an event may run past the chunk's end into what follows
                for _ in range(MAX_NUMBER_BYTES):  # the delta time; its value is not needed here
                    position += 1
                    if data[position - 1] < 0x80:
                        break
                else:
                    raise _number_too_long()
                status = data[position]
                position += 1
                running = status < 0x80  # running status: that byte was the first data byte
                if running:
                    if last_status < 0:
                        raise _MidoRefuses  # running status with no status before it
                    status = last_status
                elif status != 0xFF:
                    last_status = status  # mido lets sysex and system messages set running status too
                if status == 0xFF or status == 0xF0 or status == 0xF7:
                    if status == 0xFF:
                        kind = _TEMPO if data[position] == 0x51 else _META
                        position += 1
                    else:
                        kind = _SYSTEM  # a running-status byte before sysex is dropped, as mido does
                    length = 0
                    for _ in range(MAX_NUMBER_BYTES):
                        byte = data[position]
                        position += 1
                        length = (length << 7) | (byte & 0x7F)
                        if byte < 0x80:
                            break
                    else:
                        raise _number_too_long()
                    if position + length > len(data):
                        raise UnusableMidiError("The MIDI file is damaged or truncated and cannot be read "
                                                "(an event claims more bytes than the file has left).")
                    payload += length
                    if payload > MAX_DATA_BYTES:
                        raise UnusableMidiError(f"The MIDI file carries more than {MAX_DATA_BYTES // 1024:,} KB of "
                                                f"text and system exclusive data; at most "
                                                f"{MAX_DATA_BYTES // 1024:,} KB are accepted.")
                    position += length
                else:
                    kind = kind_of[status]
                    if kind < 0:
                        raise _MidoRefuses  # an undefined status byte
                    position += max(0, data_bytes_of[status] - running)
                counts[kind] += 1
                if counts[kind] > limits[kind]:
                    raise _too_many(kind)
                events += 1
                if events > MAX_EVENTS:
                    raise _too_many_events()
    except (_MidoRefuses, IndexError):  # IndexError: the bytes end inside an event (truncated)
        pass
    return {"tracks": tracks_read, "events": events, "data_bytes": payload, **dict(zip(EVENT_KINDS, counts))}


def check_midi_file(midi: mido.MidiFile) -> None:
    """The bounds of `count_events`, for a file mido has already parsed or that was built in code."""
    division = midi.ticks_per_beat if isinstance(midi.ticks_per_beat, int) else -1
    _check_header(midi.type, len(midi.tracks), division)
    counts = [0] * len(EVENT_KINDS)
    events = 0
    for track in midi.tracks:
        for message in track:
            kind = message.type
            if kind in ("note_on", "note_off"):
                kind = _NOTE
            elif kind == "control_change":
                kind = _CONTROL
            elif kind in ("program_change", "pitchwheel", "aftertouch", "polytouch"):
                kind = _CHANNEL
            elif kind == "set_tempo":
                kind = _TEMPO
            else:
                kind = _META if message.is_meta else _SYSTEM
            counts[kind] += 1
            if counts[kind] > _LIMITS[kind]:
                raise _too_many(kind)
            events += 1
            if events > MAX_EVENTS:
                raise _too_many_events()


def read_score(source, keep_drums: bool = False) -> Score:
    """All pitched notes of a MIDI file (types 0 and 1), merged across tracks and channels.

    As in the lecture's phraser: a note runs from a `note_on` to the next
    `note_off` (or `note_on` with velocity 0) of the same channel and key,
    notes of zero length are dropped and a note left open ends with its
    track. Unlike the phraser, a second `note_on` of a sounding key ends the
    first note and starts a new one (a re-strike), instead of only ending it.
    """
    midi = load_midi(source)  # header, tracks and events already checked against the bounds
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
    hours, most = score.seconds() / 3600, MAX_SECONDS / 3600
    if hours > most:
        shown = f"{hours:,.1f}" if round(hours, 1) > most else f"{hours:.3f}"  # never "4.0 hours; at most 4"
        raise UnusableMidiError(f"The MIDI file plays for {shown} hours; at most {most:g} hours are accepted.")
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
           "count_events", "check_midi_file", "EVENT_KINDS", "SPECIAL_TOKENS", "PAD", "BOS", "EOS",
           "MAX_FILE_BYTES", "MAX_NOTES", "MAX_BEATS", "MAX_SECONDS", "MAX_TRACKS", "MAX_EVENTS",
           "MAX_NOTE_EVENTS", "MAX_CONTROL_CHANGES", "MAX_CHANNEL_MESSAGES", "MAX_TEMPO_CHANGES", "MAX_META_EVENTS",
           "MAX_SYSTEM_MESSAGES", "MAX_DATA_BYTES", "MAX_NUMBER_BYTES"]

"""Melodies <-> event tokens <-> MIDI for the melody VAE; travels with the weights (mido is its only dependency).

A melody is a fixed number of sixteenth-note steps (`num_steps`, 32 = two bars
of 4/4), one token per step, as in Magenta's MusicVAE:

- `REST` (0): nothing sounds at this step;
- `HOLD` (1): the note sounding at the step before goes on;
- a note-on (2, 3, ...): a new note of pitch `min_pitch + token - 2` starts here.

So every step says exactly what is heard, the rhythm is kept, and a repeated
note (two note-ons) differs from a long one (a note-on and holds). A `HOLD`
with nothing to hold (at the first step, or after a rest) means a rest.

A melody is monophonic. From several voices (a chorale, a tune with double
stops) the codec keeps the top line, the "skyline": at each step where notes
begin, the highest of them, unless a higher melody note is still sounding.
For the Bach chorales that is the soprano, for folk tunes their melody.

Not here on purpose: velocities, tempo changes, triplets (notes are moved to
the nearest sixteenth; two that land on one step keep the highest). The hub
reads uploaded files with its own bounded MIDI reader and hands the notes to
`melody_line`; `notes_from_midi` is the small reader for a Hub user's own files.
"""

from __future__ import annotations

from typing import NamedTuple

REST, HOLD = 0, 1
FIRST_PITCH_TOKEN = 2
DRUM_CHANNEL = 9  # General MIDI channel 10: unpitched percussion
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


class GridNote(NamedTuple):
    onset: int  # in sixteenth-note steps
    pitch: int  # MIDI key number
    duration: int  # in steps, at least 1


def pitch_name(pitch: int) -> str:
    """'C4' for MIDI key 60 (scientific pitch notation)."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def melody_line(notes, ticks_per_beat: int, steps_per_beat: int = 4) -> list[GridNote]:
    """The top line of any notes (onset tick, pitch, duration in ticks), on a grid of `steps_per_beat` steps.

    Onsets and ends move to the nearest step (a note keeps at least one step).
    At each onset step the highest starting note is taken unless the melody
    note then sounding is higher; a taken note ends the one before it.
    """
    if ticks_per_beat <= 0:
        raise ValueError(f"ticks_per_beat must be positive, got {ticks_per_beat}")
    starting: dict[int, tuple[int, int]] = {}  # onset step -> (highest pitch, its end step)
    for onset, pitch, duration in notes:
        start = round(onset * steps_per_beat / ticks_per_beat)
        end = max(start + 1, round((onset + duration) * steps_per_beat / ticks_per_beat))
        if start not in starting or pitch > starting[start][0]:
            starting[start] = (pitch, end)
    line: list[GridNote] = []
    for start in sorted(starting):
        pitch, end = starting[start]
        if line:
            last = line[-1]
            if last.onset + last.duration > start:  # still sounding: the higher one stays the melody
                if last.pitch > pitch:
                    continue
                line[-1] = last._replace(duration=start - last.onset)
        line.append(GridNote(start, pitch, end - start))
    return line


class MelodyCodec:
    """Token ids of fixed-length melodies, their notes and MIDI files, for one pitch range and length."""

    def __init__(self, min_pitch: int = 48, max_pitch: int = 84, num_steps: int = 32, steps_per_beat: int = 4,
                 steps_per_bar: int = 16):
        if not 0 <= min_pitch <= max_pitch <= 127:
            raise ValueError(f"need 0 <= min_pitch <= max_pitch <= 127, got {min_pitch} and {max_pitch}")
        self.min_pitch, self.max_pitch = min_pitch, max_pitch
        self.num_steps, self.steps_per_beat, self.steps_per_bar = num_steps, steps_per_beat, steps_per_bar
        self.vocab_size = FIRST_PITCH_TOKEN + max_pitch - min_pitch + 1

    # ------------------------------------------------------------------ tokens
    def token_of(self, pitch: int) -> int:
        if not self.min_pitch <= pitch <= self.max_pitch:
            raise ValueError(f"pitch {pitch_name(pitch)} ({pitch}) is outside this model's range "
                             f"{pitch_name(self.min_pitch)}-{pitch_name(self.max_pitch)}")
        return FIRST_PITCH_TOKEN + pitch - self.min_pitch

    def pitch_of(self, token: int) -> int | None:
        """The pitch a note-on token starts, None for REST and HOLD."""
        return None if token < FIRST_PITCH_TOKEN else self.min_pitch + token - FIRST_PITCH_TOKEN

    def melody_from_notes(self, notes, start: int = 0) -> list[int]:
        """The `num_steps` tokens of the monophonic `notes` (GridNote-like) from step `start` on.

        A note that began before `start` and still sounds there starts at the
        melody's first step (as MusicVAE cuts its windows). Raises ValueError
        for a pitch outside the range.
        """
        melody = [REST] * self.num_steps
        for onset, pitch, duration in notes:
            first, end = max(onset, start) - start, min(onset + duration, start + self.num_steps) - start
            if end <= 0 or first >= self.num_steps:
                continue
            melody[first] = self.token_of(pitch)
            for step in range(first + 1, end):
                melody[step] = HOLD
        return melody

    def notes_from_melody(self, melody, offset: int = 0) -> list[GridNote]:
        """The notes the tokens play, starting at step `offset`; a HOLD with nothing to hold is a rest."""
        notes: list[GridNote] = []
        sounding = False
        for step, token in enumerate(int(token) for token in melody):
            if token >= FIRST_PITCH_TOKEN:
                notes.append(GridNote(offset + step, self.pitch_of(token), 1))
                sounding = True
            elif token == HOLD and sounding:
                notes[-1] = notes[-1]._replace(duration=notes[-1].duration + 1)
            else:
                sounding = False
        return notes

    def describe(self, melody) -> str:
        """One line per melody: a pitch name where a note starts, '-' where it holds, '.' for a rest, '|' per bar."""
        words = []
        sounding = False
        for step, token in enumerate(int(token) for token in melody):
            if step and step % self.steps_per_bar == 0:
                words.append("|")
            if token >= FIRST_PITCH_TOKEN:
                words.append(pitch_name(self.pitch_of(token)))
                sounding = True
            elif token == HOLD and sounding:
                words.append("-")
            else:
                words.append(".")
                sounding = False
        return " ".join(words)

    # ------------------------------------------------------------------ MIDI
    def midi_from_melodies(self, melodies, gap_steps: int = 0, tempo_bpm: float = 120.0, program: int = 0,
                           ticks_per_beat: int = 480):
        """One mido.MidiFile playing the melodies one after the other, `gap_steps` of silence between them."""
        import mido

        if not 0 <= program <= 127:
            raise ValueError(f"program must be a General MIDI program 0-127, got {program}")
        if not 10 <= tempo_bpm <= 1000:
            raise ValueError(f"tempo_bpm must lie between 10 and 1000, got {tempo_bpm}")
        melodies = [[int(token) for token in melody] for melody in melodies]  # lists or tensors
        ticks_per_step = ticks_per_beat // self.steps_per_beat
        events = []  # (tick, 0 = off before 1 = on at the same tick, pitch)
        offset = 0
        for melody in melodies:
            for note in self.notes_from_melody(melody, offset):
                events.append((note.onset * ticks_per_step, 1, note.pitch))
                events.append(((note.onset + note.duration) * ticks_per_step, 0, note.pitch))
            offset += len(melody) + gap_steps
        events.sort()
        track = mido.MidiTrack([
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
            mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
            mido.Message("program_change", program=program, channel=0, time=0),
        ])
        now = 0
        for tick, is_on, pitch in events:
            kind = "note_on" if is_on else "note_off"
            track.append(mido.Message(kind, note=pitch, velocity=80 if is_on else 0, channel=0, time=tick - now))
            now = tick
        end = max(0, offset - gap_steps) * ticks_per_step  # the last melody's end, rests included
        track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
        return mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat, tracks=[track])

    def notes_from_midi(self, midi) -> list[GridNote]:
        """The top line of a mido.MidiFile (all tracks and channels but drums) on this codec's grid.

        A note runs from a note-on to the next note-off (or note-on of velocity
        0) of its channel and key. For files of your own; the hub reads uploads
        with its bounded reader first.
        """
        notes = []
        for track in midi.tracks:
            tick, sounding = 0, {}
            for message in track:
                tick += message.time
                if message.type not in ("note_on", "note_off") or message.channel == DRUM_CHANNEL:
                    continue
                key = (message.channel, message.note)
                if key in sounding:
                    notes.append((sounding[key], message.note, tick - sounding.pop(key)))
                if message.type == "note_on" and message.velocity > 0:
                    sounding[key] = tick
        return melody_line([note for note in notes if note[2] > 0], midi.ticks_per_beat, self.steps_per_beat)


__all__ = ["MelodyCodec", "GridNote", "melody_line", "pitch_name", "REST", "HOLD", "FIRST_PITCH_TOKEN"]

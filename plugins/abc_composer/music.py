"""ABC text -> notes -> MIDI -> sound, with a real ABC parser (music21) and the hub's FluidSynth path.

`read_abc` parses a tune with music21's ABC reader and returns its notes on a
grid of 12 steps per quarter note (ties joined, chords as their notes, repeats
as written once) with its tempo; text music21 cannot read, or that holds no
note, raises `UnusableInputError` with a sentence saying what is wrong. The
audio is rendered by the composer plugin's `render` (FluidSynth with a General
MIDI soundfont, or the built-in synthesiser when it is missing), the picture by
its `piano_roll`.

"Valid ABC" in this plugin's figures means exactly this: `read_abc` accepts
the tune, and its notes write a MIDI file that reads back with mido.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import mido

from models.lstm_composer.midi_codec import Note, midi_bytes, notes_to_midi

from ..errors import UnusableInputError
from ..lstm_composer.audio import GM_PROGRAMS, Rendering, piano_roll, render

STEPS_PER_BEAT = 12  # grid steps per quarter note: sixteenths, triplets and sextuplets fall on it
TICKS_PER_STEP = 40
DEFAULT_TEMPO = 120.0  # quarter notes per minute, when the tune has no Q: field (music21's default too)
MAX_ABC_CHARACTERS = 20_000
MAX_NOTES = 5_000
DEFAULT_PROGRAM = GM_PROGRAMS["Violin"]  # the fiddle of the Irish sessions


@dataclass
class Tune:
    """A tune music21 could read: its notes in grid steps and its tempo (quarter notes per minute)."""

    notes: list[Note]
    tempo: float
    title: str = ""

    def midi(self, program: int = DEFAULT_PROGRAM) -> bytes:
        return midi_bytes(notes_to_midi(self.notes, TICKS_PER_STEP, TICKS_PER_STEP * STEPS_PER_BEAT, self.tempo,
                                        program))

    def render(self, program: int = DEFAULT_PROGRAM) -> Rendering:
        return render(self.notes, STEPS_PER_BEAT, self.tempo, program)

    def piano_roll(self, prompt_steps: int = 0):
        return piano_roll(self.notes, STEPS_PER_BEAT, prompt_steps)


def _parse(text: str):
    """music21's ABC reader on a string, never on a path (converter.parse would open a file by that name)."""
    from music21.abcFormat import ABCHandler
    from music21.abcFormat.translate import abcToStreamScore

    handler = ABCHandler()
    handler.process(text)
    return abcToStreamScore(handler)


def read_abc(text: str) -> Tune:
    """The notes of one ABC tune (see the module docstring); UnusableInputError when there are none to play."""
    if not isinstance(text, str) or not text.strip():
        raise UnusableInputError("The ABC text is empty: write a tune (a K: line, then its notes).")
    if len(text) > MAX_ABC_CHARACTERS:
        raise UnusableInputError(f"The ABC text has {len(text):,} characters; at most {MAX_ABC_CHARACTERS:,} "
                                 "are read.")
    if "K:" not in text:
        raise UnusableInputError("The ABC text has no K: (key) line, so music21 cannot tell where its music starts.")
    try:
        score = _parse(text if text.lstrip().startswith("X:") else "X:1\n" + text)
        score = score.stripTies()
        elements = list(score.flatten().notes)
    except Exception as error:  # noqa: BLE001 - music21's ABC reader raises many kinds; all mean "not readable"
        message = " ".join(str(error).split())[:160] or type(error).__name__
        raise UnusableInputError(f"music21 could not read this ABC text: {message}") from None
    tempo = DEFAULT_TEMPO
    marks = score.flatten().getElementsByClass("MetronomeMark")
    if marks:
        seconds = marks[0].secondsPerQuarter() if marks[0].number else None
        if seconds and math.isfinite(seconds) and seconds > 0:
            tempo = min(300.0, max(30.0, 60.0 / seconds))
    notes = []
    for element in elements:
        onset = round(float(element.getOffsetInHierarchy(score)) * STEPS_PER_BEAT)
        duration = max(1, round(float(element.quarterLength) * STEPS_PER_BEAT))
        for pitch in element.pitches:
            if 0 <= pitch.midi <= 127:
                notes.append(Note(onset, int(pitch.midi), duration))
        if len(notes) > MAX_NOTES:
            raise UnusableInputError(f"The tune has more than {MAX_NOTES:,} notes; this demo plays shorter tunes.")
    if not notes:
        raise UnusableInputError("music21 read the ABC text but found no notes in it to play.")
    title = score.metadata.title if score.metadata is not None and score.metadata.title else ""
    return Tune(sorted(notes), tempo, title)


def longest_repetition(items: list, max_period: int) -> tuple[int, int, int]:
    """(period, first, count) of the longest stretch `items[first:first + count]` in which every item equals the
    one `period` items earlier, for periods 1 to `max_period`: one phrase of `period` items played count / period
    times in a row. (0, 0, 0) when nothing repeats. O(len(items) x max_period)."""
    best = (0, 0, 0)
    for period in range(1, min(max_period, len(items) // 2) + 1):
        run = 0
        for index in range(len(items) - period + 1):
            if index + period < len(items) and items[index] == items[index + period]:
                run += 1
                continue
            if run >= period and run + period > best[2]:  # items[index - run : index + period]: two plays or more
                best = (period, index - run, run + period)
            run = 0
    return best


@dataclass
class PhraseLoop:
    """The longest stretch of a tune that is one phrase played over and over, note for note."""

    phrase_notes: int  # notes (a chord counts once) in the phrase; 0 when no phrase plays twice in a row
    plays: float  # how many times in a row it sounds (a last, partial play counts its share)
    beats: float  # quarter-note beats the stretch lasts


MAX_PHRASE_NOTES = 32


def phrase_loop(notes: list[Note], steps_per_beat: int = STEPS_PER_BEAT) -> PhraseLoop:
    """The tune's longest stretch of one phrase of 1 to MAX_PHRASE_NOTES notes played again and again. A note here is
    the pitches starting at one moment, their lengths and the time to the next one. A tune that writes a repeat out
    plays its phrase twice; a decoder stuck in a loop, dozens of times."""
    onsets = sorted({note.onset for note in notes})
    chords: dict[int, list[tuple[int, int]]] = {}
    for note in notes:
        chords.setdefault(note.onset, []).append((note.pitch, note.duration))
    ends = onsets[1:] + [max((note.onset + note.duration for note in notes), default=0)]
    events = [(tuple(sorted(chords[onset])), end - onset) for onset, end in zip(onsets, ends)]
    period, first, count = longest_repetition(events, MAX_PHRASE_NOTES)
    if not period:
        return PhraseLoop(0, 0.0, 0.0)
    return PhraseLoop(period, count / period, (ends[first + count - 1] - onsets[first]) / steps_per_beat)


def playable(text: str) -> tuple[bool, str]:
    """(True, "") for a tune that parses and plays (its MIDI file reads back), else (False, why)."""
    try:
        tune = read_abc(text)
        midi = mido.MidiFile(file=io.BytesIO(tune.midi()))
        if not any(message.type == "note_on" for track in midi.tracks for message in track):
            return False, "its MIDI file has no notes"
    except UnusableInputError as error:
        return False, str(error)
    except (ValueError, OSError, EOFError) as error:
        return False, f"its MIDI file could not be written or read ({type(error).__name__})"
    return True, ""


__all__ = ["Tune", "read_abc", "playable", "phrase_loop", "PhraseLoop", "longest_repetition", "STEPS_PER_BEAT",
           "DEFAULT_PROGRAM"]

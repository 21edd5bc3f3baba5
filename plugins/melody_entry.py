"""A short melody typed as note names, or played on an on-screen keyboard: a seed without a MIDI file.

The text is what a musician would jot down: `C4 D4 E4 G4:2 . E4`. Each item is a note or a rest, one after the
other (no chords), separated by spaces, commas or bar lines (`|`, ignored):

- a note is a letter A-G, an optional sharp or flat (`#`, `b`, `♯`, `♭`) and an octave in scientific pitch
  notation (C4 is middle C, MIDI 60; A4 is 440 Hz); without an octave, octave 4;
- a rest is `.` or `r`;
- either may end in `:<beats>`, its length in beats (quarter notes): `2`, `1/2`, `0.5`, `3/4`, `1/3`, in
  multiples of 1/12 beat (sixteenths, eighth-note triplets), at most 8 beats; without it, 1 beat.

`parse_melody` reads the text into `MelodyNote`s (pitch, start and duration in beats, exact fractions) and raises
`UnusableInputError` with a sentence naming the first item it cannot read; the length is bounded
(MAX_MELODY_ITEMS items, MAX_MELODY_CHARACTERS characters). `format_melody` writes notes back as such text and
`melody_to_midi` as a one-track MIDI file, which is how a composer takes it as a primer (its codec reads the file
as it reads an upload). `keyboard` builds the on-screen keyboard that types into a `gr.Textbox`; Gradio is imported
only there, so the parser serves any plugin, a melody model's data code included.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple

import mido

from models.lstm_composer.midi_codec import Note, notes_to_midi

from .errors import UnusableInputError

MAX_MELODY_ITEMS = 64  # notes and rests
MAX_MELODY_CHARACTERS = 1000
MAX_NOTE_BEATS = Fraction(8)
STEPS_PER_BEAT = 12  # the grid lengths must fall on: sixteenths (3 steps) and triplet eighths (4 steps)
TICKS_PER_STEP = 40  # 480 ticks per beat in the MIDI file
DEFAULT_OCTAVE = 4
LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
REST_SIGNS = (".", "r", "R")
SEPARATORS = re.compile(r"[\s,|]+")
NOTE_PATTERN = re.compile(r"([A-Ga-g])([#♯b♭]?)(-1|\d)?")
SYNTAX = ("a note is a letter A-G, an optional # or b and an octave (C4 is middle C), a rest is '.', and either "
          "may end in :beats, e.g. C4 F#3:2 Bb4:1/2 .:1")


class MelodyNote(NamedTuple):
    pitch: int  # MIDI note number, 0-127
    start: Fraction  # beats (quarter notes) from the melody's beginning
    duration: Fraction  # beats


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific pitch name with sharps: 60 -> "C4", 61 -> "C#4", 21 -> "A0"."""
    return f"{SHARP_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _beats(text: str, item: str) -> Fraction:
    try:
        beats = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise UnusableInputError(f"“{item}”: the length after ':' must be a number of beats such as 2, 1/2 or "
                                 "0.75.") from None
    if beats <= 0 or beats > MAX_NOTE_BEATS:
        raise UnusableInputError(f"“{item}”: a length must be above 0 and at most {MAX_NOTE_BEATS} beats.")
    if (beats * STEPS_PER_BEAT).denominator != 1:
        raise UnusableInputError(f"“{item}”: lengths are multiples of 1/{STEPS_PER_BEAT} beat (1/2, 1/3, 1/4, "
                                 "3/4, 2 ...).")
    return beats


def _pitch(text: str, item: str) -> int:
    match = NOTE_PATTERN.fullmatch(text)
    if match is None:
        raise UnusableInputError(f"“{item}” is not a note or a rest: {SYNTAX}.")
    letter, accidental, octave = match.groups()
    octave = int(octave) if octave is not None else DEFAULT_OCTAVE
    pitch = 12 * (octave + 1) + LETTERS[letter.upper()] + ACCIDENTALS[accidental]
    if not 0 <= pitch <= 127:
        raise UnusableInputError(f"“{item}” is outside MIDI's notes (C-1 to G9).")
    return pitch


def parse_melody(text: str) -> list[MelodyNote]:
    """The notes of a typed melody (see the module docstring), in order; rests only move the clock on.

    Raises UnusableInputError for text that is not a string, empty, too long, holds no note, or has an item
    it cannot read (the message quotes the item and says what is allowed)."""
    if not isinstance(text, str):
        raise UnusableInputError("A melody must be text, e.g. “C4 D4 E4 G4:2”.")
    if len(text) > MAX_MELODY_CHARACTERS:
        raise UnusableInputError(f"The melody has {len(text):,} characters; at most {MAX_MELODY_CHARACTERS:,} "
                                 "are read.")
    items = [item for item in SEPARATORS.split(text.strip()) if item]
    if not items:
        raise UnusableInputError(f"The melody is empty: type notes such as “C4 D4 E4 G4:2” ({SYNTAX}).")
    if len(items) > MAX_MELODY_ITEMS:
        raise UnusableInputError(f"The melody has {len(items)} notes and rests; at most {MAX_MELODY_ITEMS} are "
                                 "taken (a seed is short: the model writes the rest).")
    notes, now = [], Fraction(0)
    for item in items:
        sign, _, length = item.partition(":")
        beats = _beats(length, item) if length else Fraction(1)
        if sign not in REST_SIGNS:
            notes.append(MelodyNote(_pitch(sign, item), now, beats))
        now += beats
    if not notes:
        raise UnusableInputError("The melody has only rests; give it at least one note.")
    return notes


def format_melody(notes: list[MelodyNote]) -> str:
    """Notes as melody text that `parse_melody` reads back to the same notes (rests fill the gaps between them).

    Notes must follow one another (each starts at or after the previous one's end), as a typed melody's do."""
    parts, now = [], Fraction(0)
    for note in notes:
        if note.start < now:
            raise ValueError("melody notes must not overlap: each starts at or after the previous one's end")
        while note.start > now:  # a long rest is written as rests of at most MAX_NOTE_BEATS
            rest = min(note.start - now, MAX_NOTE_BEATS)
            parts.append(_with_length(".", rest))
            now += rest
        parts.append(_with_length(note_name(note.pitch), note.duration))
        now = note.start + note.duration
    return " ".join(parts)


def _with_length(sign: str, beats: Fraction) -> str:
    return sign if beats == 1 else f"{sign}:{beats}"


def melody_to_midi(notes: list[MelodyNote], tempo_bpm: float = 120.0, program: int = 0) -> mido.MidiFile:
    """The melody as a one-track MIDI file (480 ticks per beat), General MIDI `program`."""
    grid = [Note(int(note.start * STEPS_PER_BEAT), note.pitch, int(note.duration * STEPS_PER_BEAT), 0, 80)
            for note in notes]
    return notes_to_midi(grid, TICKS_PER_STEP, TICKS_PER_STEP * STEPS_PER_BEAT, tempo_bpm, program)


LENGTHS = (("1/4", "a sixteenth note"), ("1/2", "an eighth note"), ("1", "a quarter note"), ("2", "a half note"))
BLACK_AFTER = {0, 2, 5, 7, 9}  # pitch classes whose key has a black key to its right: C, D, F, G, A

# Runs once when the keyboard appears (Gradio's js_on_load: `element` is the keyboard, `props` its settings). It
# edits the text box as typing would (an `input` event), so Gradio takes the new text as the box's value.
KEYBOARD_JS = """
const box = () => document.querySelector(`#${props.target_id} textarea, #${props.target_id} input`);
const write = (text) => {
  const input = box();
  if (!input) return;
  input.value = text;
  input.dispatchEvent(new Event('input', {bubbles: true}));
};
const append = (sign) => {
  const length = element.querySelector('input[type=radio]:checked')?.value || '1';
  const text = (box()?.value || '').trimEnd();
  write(`${text}${text ? ' ' : ''}${length === '1' ? sign : `${sign}:${length}`}`);
};
let audio = null;
const sound = (pitch) => {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  audio = audio || new Context();
  const tone = audio.createOscillator(), level = audio.createGain(), now = audio.currentTime;
  tone.type = 'triangle';
  tone.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
  level.gain.setValueAtTime(0.2, now);
  level.gain.exponentialRampToValueAtTime(0.001, now + 0.4);
  tone.connect(level).connect(audio.destination);
  tone.start(now);
  tone.stop(now + 0.4);
};
element.addEventListener('click', (event) => {
  const key = event.target.closest('button');
  if (!key) return;
  if (key.dataset.note) {
    append(key.dataset.note);
    sound(Number(key.dataset.pitch));
  } else if (key.dataset.action === 'rest') {
    append('.');
  } else if (key.dataset.action === 'back') {
    write((box()?.value || '').replace(/[\\s,|]*[^\\s,|]+[\\s,|]*$/, ''));
  } else if (key.dataset.action === 'clear') {
    write('');
  }
});
"""

KEYBOARD_CSS = """
.melody-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px; margin-bottom: 4px;
  font-size: var(--text-sm); }
.melody-bar label { display: inline-flex; align-items: center; gap: 2px; cursor: pointer; }
.melody-bar button { padding: 1px 8px; border: 1px solid var(--border-color-primary); border-radius: var(--radius-sm);
  background: var(--button-secondary-background-fill); }
.melody-keys { position: relative; height: 60px; user-select: none; }
.melody-keys button { position: absolute; top: 0; padding: 0; border: 1px solid #777; border-radius: 0 0 4px 4px;
  font-size: 10px; line-height: 1; display: flex; align-items: flex-end; justify-content: center; }
.melody-keys .white { height: 100%; background: #fff; color: #555; padding-bottom: 4px; z-index: 1; }
.melody-keys .black { height: 60%; background: #222; color: #222; z-index: 2; }
.melody-keys .white:active { background: #f3c99b; }
.melody-keys .black:active { background: #b4641e; }
"""


def keyboard_html(target_id: str, low: int = 60, octaves: int = 2) -> str:
    """The keyboard's markup: from MIDI `low` (a C) over `octaves` octaves and the C above, with the length
    choices, Rest, ⌫ and Clear. Every key is a button named after its note (aria-label "C#4")."""
    if low % 12 != 0 or not 0 <= low <= 127 - 12 * octaves:
        raise ValueError(f"the keyboard starts on a C and stays within MIDI's notes; got low={low}, octaves={octaves}")
    whites = [pitch for pitch in range(low, low + 12 * octaves + 1) if pitch % 12 in LETTERS.values()]
    width = 100 / len(whites)
    keys = []
    for index, pitch in enumerate(whites):
        name = note_name(pitch)
        keys.append(f'<button class="white" data-note="{name}" data-pitch="{pitch}" aria-label="{name}" '
                    f'title="{name}" style="left:{index * width:.3f}%;width:{width:.3f}%">'
                    f'{name if pitch % 12 == 0 else ""}</button>')
        if pitch % 12 in BLACK_AFTER and index + 1 < len(whites):
            black = note_name(pitch + 1)
            keys.append(f'<button class="black" data-note="{black}" data-pitch="{pitch + 1}" aria-label="{black}" '
                        f'title="{black}" style="left:{(index + 0.68) * width:.3f}%;width:{0.64 * width:.3f}%">'
                        "</button>")
    group = f"melody-length-{target_id}"
    lengths = "".join(
        f'<label title="{words}"><input type="radio" name="{group}" value="{value}"'
        f'{" checked" if value == "1" else ""}>{value}</label>' for value, words in LENGTHS)
    return (f'<div class="melody-bar"><span>Length (beats):</span>{lengths}'
            '<button data-action="rest" aria-label="Rest">Rest</button>'
            '<button data-action="back" aria-label="Remove the last note">⌫</button>'
            '<button data-action="clear" aria-label="Clear the melody">Clear</button></div>'
            f'<div class="melody-keys">{"".join(keys)}</div>')


def keyboard(target, *, low: int = 60, octaves: int = 2, elem_id: str | None = None):
    """An on-screen piano that types into the `gr.Textbox` `target` (which needs an elem_id): a key adds its note
    with the length chosen above the keys, Rest a rest, ⌫ removes the last item, Clear empties the box; a key
    sounds its note briefly (Web Audio). The text box stays the one input: what the keyboard types, a person may
    type, and the API takes."""
    import gradio as gr

    if not target.elem_id:
        raise ValueError("the text box a keyboard types into needs an elem_id")
    return gr.HTML(keyboard_html(target.elem_id, low, octaves), html_template="${value}", css_template=KEYBOARD_CSS,
                   js_on_load=KEYBOARD_JS, elem_id=elem_id, target_id=target.elem_id)


__all__ = ["MelodyNote", "parse_melody", "format_melody", "melody_to_midi", "note_name", "keyboard",
           "MAX_MELODY_ITEMS", "MAX_MELODY_CHARACTERS", "MAX_NOTE_BEATS"]

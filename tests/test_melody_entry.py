"""Typed melodies (plugins.melody_entry): note names in, notes and a MIDI file out, bad text refused with a sentence."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.lstm_composer.midi_codec import read_score
from plugins.errors import UnusableInputError
from plugins.melody_entry import (
    MAX_MELODY_ITEMS, MelodyNote, format_melody, keyboard_html, melody_to_midi, note_name, parse_melody,
)


def test_note_names_accidentals_octaves_lengths_and_rests():
    notes = parse_melody("C4 D#4 Eb4, g5:2 | . Bb3:1/2 f♯2:0.75 r:1/3 A-1 c")
    assert [note.pitch for note in notes] == [60, 63, 63, 79, 58, 42, 9, 60]
    assert [note.start for note in notes] == [0, 1, 2, 3, 6, Fraction(13, 2), Fraction(91, 12), Fraction(103, 12)]
    assert [note.duration for note in notes] == [1, 1, 1, 2, Fraction(1, 2), Fraction(3, 4), 1, 1]
    assert [note_name(pitch) for pitch in (60, 61, 69, 21, 0, 127)] == ["C4", "C#4", "A4", "A0", "C-1", "G9"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "The melody is empty"),
    ("  | , ", "The melody is empty"),
    (". .:2 r", "only rests"),
    ("C4 H4 E4", "“H4” is not a note or a rest"),
    ("C4 Cx4", "“Cx4” is not a note"),
    ("C44", "“C44” is not a note"),
    ("C-2", "“C-2” is not a note"),
    ("B9", "“B9” is outside MIDI's notes"),
    ("C4:0", "above 0 and at most 8 beats"),
    ("C4:9", "above 0 and at most 8 beats"),
    ("C4:-1", "above 0 and at most 8 beats"),
    ("C4:1/5", "multiples of 1/12 beat"),
    ("C4:long", "a number of beats"),
    ("C4:1/0", "a number of beats"),
    ("C4 " * (MAX_MELODY_ITEMS + 1), f"at most {MAX_MELODY_ITEMS} are taken"),
    ("C4" + " " * 1000, "at most 1,000 are read"),
    (None, "must be text"),
    (["C4"], "must be text"),
])
def test_bad_melodies_are_refused_with_a_sentence_naming_the_item(text, message):
    with pytest.raises(UnusableInputError, match=message):
        parse_melody(text)


def test_a_melody_of_the_longest_allowed_length_is_read():
    assert len(parse_melody("C4:1/4 " * MAX_MELODY_ITEMS)) == MAX_MELODY_ITEMS


LENGTHS = st.sampled_from([Fraction(n, 12) for n in (1, 2, 3, 4, 6, 8, 9, 12, 18, 24, 36, 48, 96)])
ITEMS = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 127)), LENGTHS), min_size=1, max_size=MAX_MELODY_ITEMS)


def melody_of(items) -> list[MelodyNote]:
    notes, now = [], Fraction(0)
    for pitch, length in items:
        if pitch is not None:
            notes.append(MelodyNote(pitch, now, length))
        now += length
    return notes


@settings(max_examples=60, deadline=None)
@given(ITEMS)
def test_text_and_midi_round_trip(items):
    notes = melody_of(items)
    if not notes:
        return
    assert parse_melody(format_melody(notes)) == notes
    score = read_score(melody_to_midi(notes, tempo_bpm=90))
    ticks = score.ticks_per_beat
    assert [(note.pitch, Fraction(note.onset, ticks), Fraction(note.duration, ticks)) for note in score.notes] == \
        [(note.pitch, note.start, note.duration) for note in notes]


def test_the_keyboard_names_every_key_after_its_note():
    markup = keyboard_html("melody", low=60, octaves=2)
    for name in ("C4", "C#4", "D#4", "F#4", "G#4", "A#4", "E5", "B5", "C6"):
        assert f'aria-label="{name}"' in markup
    assert markup.count('class="white"') == 15 and markup.count('class="black"') == 10
    assert 'aria-label="Rest"' in markup and "${" not in markup and "`" not in markup  # plain HTML for the template
    with pytest.raises(ValueError, match="starts on a C"):
        keyboard_html("melody", low=61)

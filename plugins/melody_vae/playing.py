"""Melodies -> one MIDI file and one sound, through the composer's renderer (FluidSynth, or its fallback)."""

from __future__ import annotations

from dataclasses import dataclass

from models.lstm_composer.midi_codec import Note, midi_bytes

from ..lstm_composer.audio import Rendering, render


@dataclass
class Played:
    midi: bytes
    rendering: Rendering


def play(model, melodies: list[list[int]], tempo_bpm: float | None = None, program: int | None = None) -> Played:
    """The melodies one after another, bar after bar with no pause (an interpolation heard as one piece)."""
    codec, config = model.codec, model.config
    tempo = config.tempo_bpm if tempo_bpm is None else tempo_bpm
    program = config.program if program is None else program
    notes = [Note(note.onset, note.pitch, note.duration)
             for index, melody in enumerate(melodies)
             for note in codec.notes_from_melody(melody, offset=index * codec.num_steps)]
    midi = midi_bytes(codec.midi_from_melodies(melodies, tempo_bpm=tempo, program=program))
    return Played(midi, render(notes, codec.steps_per_beat, tempo, program))

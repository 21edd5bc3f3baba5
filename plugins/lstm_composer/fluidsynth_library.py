"""FluidSynth as a library in the hub's own process: the soundfont is loaded once, not once per piece.

Running the `fluidsynth` program for every piece costs about 45 ms of CPU before the first sample (a new
process, the 148 MB soundfont's headers parsed again, a MIDI file written and read back, a WAV file written
and read back): a third of a composing request, and the load test's largest single cost after the models.
Here Debian's libfluidsynth (the library the program itself runs on) is called through ctypes: each rendering
thread borrows a synthesizer that keeps its soundfont and the instruments it has played, is reset between
pieces, and receives the notes directly (note-on and note-off at their sample positions), so there are no
files in between. The settings are the program's (`-g 0.5 -r 22050`, dynamic sample loading, its default
reverb and chorus), and the events are the MIDI file's (`canonical_notes`, offs before ons at the same step),
so a piece sounds as the command line renders it.

Nothing here can hang the way a separate program can: the work is bounded by the notes (at most
`audio.MAX_AUDIO_SECONDS` of sound) and checked against a wall-clock limit between blocks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time
from pathlib import Path

import numpy as np

from models.lstm_composer.midi_codec import Note, canonical_notes

SYNTH_BLOCK = 64  # FluidSynth computes sound 64 frames at a time (FLUID_BUFSIZE); events take effect between blocks
BLOCK_FRAMES = 64 * SYNTH_BLOCK  # frames rendered per library call between events
TAIL_LIMIT_SECONDS = 6.0  # after the last note-off, render until every voice has died away, at most this long
MAX_IDLE_SYNTHESIZERS = 4  # kept for reuse; more concurrent renderings create (and then drop) their own


class RenderTimeout(Exception):
    def __init__(self, seconds: float):
        super().__init__(f"rendering took longer than {seconds:g} s")
        self.seconds = seconds


@functools.lru_cache(maxsize=1)
def load_library() -> ctypes.CDLL | None:
    """libfluidsynth with the signatures used here, or None when it is not installed."""
    name = ctypes.util.find_library("fluidsynth")
    if name is None:
        return None
    try:
        library = ctypes.CDLL(name)
    except OSError:
        return None
    pointer, integer, text = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    signatures = {
        "new_fluid_settings": (pointer, []),
        "delete_fluid_settings": (None, [pointer]),
        "fluid_settings_setnum": (integer, [pointer, text, ctypes.c_double]),
        "fluid_settings_setint": (integer, [pointer, text, integer]),
        "new_fluid_synth": (pointer, [pointer]),
        "delete_fluid_synth": (None, [pointer]),
        "fluid_synth_sfload": (integer, [pointer, text, integer]),
        "fluid_synth_system_reset": (integer, [pointer]),
        "fluid_synth_program_change": (integer, [pointer, integer, integer]),
        "fluid_synth_noteon": (integer, [pointer, integer, integer, integer]),
        "fluid_synth_noteoff": (integer, [pointer, integer, integer]),
        "fluid_synth_get_active_voice_count": (integer, [pointer]),
        "fluid_synth_write_float": (integer, [pointer, integer, pointer, integer, integer, pointer, integer, integer]),
        "fluid_set_log_function": (pointer, [integer, pointer, pointer]),
    }
    try:
        for function, (result, arguments) in signatures.items():
            getattr(library, function).restype = result
            getattr(library, function).argtypes = arguments
    except AttributeError:  # a library too old or too different to trust
        return None
    for level in range(5):  # FLUID_PANIC .. FLUID_DBG: the hub reports failures itself, not on stderr
        library.fluid_set_log_function(level, None, None)
    return library


class Synthesizer:
    """One libfluidsynth synthesizer with `soundfont` loaded, set up as `fluidsynth -g 0.5 -r RATE` would be."""

    def __init__(self, library: ctypes.CDLL, soundfont: Path, sample_rate: int):
        self.library, self.soundfont, self.sample_rate = library, soundfont, sample_rate
        self.settings = library.new_fluid_settings()
        if not self.settings:
            raise OSError("libfluidsynth could not create its settings")
        library.fluid_settings_setnum(self.settings, b"synth.sample-rate", float(sample_rate))
        library.fluid_settings_setnum(self.settings, b"synth.gain", 0.5)
        library.fluid_settings_setint(self.settings, b"synth.dynamic-sample-loading", 1)
        self.synth = library.new_fluid_synth(self.settings)
        if not self.synth:
            library.delete_fluid_settings(self.settings)
            raise OSError("libfluidsynth could not create a synthesizer")
        if library.fluid_synth_sfload(self.synth, str(soundfont).encode(), 1) < 0:
            self.close()
            raise OSError(f"libfluidsynth could not load the soundfont {soundfont.name}")

    def close(self) -> None:
        self.library.delete_fluid_synth(self.synth)
        self.library.delete_fluid_settings(self.settings)

    def _write(self, frames: int) -> np.ndarray:
        stereo = np.empty(2 * frames, dtype=np.float32)
        address = stereo.ctypes.data
        self.library.fluid_synth_write_float(self.synth, frames, address, 0, 2, address, 1, 2)
        return stereo

    def play(self, notes: list[Note], steps_per_beat: int, tempo_bpm: float, program: int,
             timeout: float) -> np.ndarray:
        """The notes (grid steps) as mono float32 samples, through the last voice's release."""
        library, synth = self.library, self.synth
        deadline = time.monotonic() + timeout
        library.fluid_synth_system_reset(synth)  # no voice, controller or program left from the last piece
        library.fluid_synth_program_change(synth, 0, program)
        frames_per_step = 60.0 / tempo_bpm / steps_per_beat * self.sample_rate
        events = []  # (step, 0 = off / 1 = on, pitch, velocity): the order notes_to_midi writes them in
        for note in canonical_notes(notes):
            events.append((note.onset, 1, note.pitch, note.velocity))
            events.append((note.onset + note.duration, 0, note.pitch, 0))
        events.sort()
        blocks, written = [], 0
        for step, is_on, pitch, velocity in events:
            # An event takes effect at the first block boundary from its time on, as in the program's MIDI
            # player. Writing whole blocks only keeps every piece's timing on that grid whatever was rendered
            # before it (the synthesizer would otherwise keep a partly read block between pieces).
            due = -(-int(step * frames_per_step) // SYNTH_BLOCK) * SYNTH_BLOCK
            while written < due:
                frames = min(BLOCK_FRAMES, due - written)
                blocks.append(self._write(frames))
                written += frames
                if time.monotonic() > deadline:
                    raise RenderTimeout(timeout)
            if is_on:
                library.fluid_synth_noteon(synth, 0, pitch, max(1, min(127, velocity)))
            else:
                library.fluid_synth_noteoff(synth, 0, pitch)
        tail_end = written + int(TAIL_LIMIT_SECONDS * self.sample_rate)
        while written < tail_end and library.fluid_synth_get_active_voice_count(synth) > 0:
            blocks.append(self._write(BLOCK_FRAMES))
            written += BLOCK_FRAMES
            if time.monotonic() > deadline:
                raise RenderTimeout(timeout)
        blocks.append(self._write(self.sample_rate // 4 // SYNTH_BLOCK * SYNTH_BLOCK))  # the reverb's last 0.25 s
        stereo = np.concatenate(blocks)
        return (stereo[0::2] + stereo[1::2]) * 0.5


class SynthesizerPool:
    """Synthesizers for concurrent renderings: each thread borrows one, idle ones are kept for the next piece."""

    def __init__(self, library: ctypes.CDLL, soundfont: Path, sample_rate: int):
        self.library, self.soundfont, self.sample_rate = library, soundfont, sample_rate
        self.idle: list[Synthesizer] = []
        self.lock = threading.Lock()

    def render(self, notes: list[Note], steps_per_beat: int, tempo_bpm: float, program: int,
               timeout: float) -> np.ndarray:
        with self.lock:
            synthesizer = self.idle.pop() if self.idle else None
        if synthesizer is None:
            synthesizer = Synthesizer(self.library, self.soundfont, self.sample_rate)
        try:
            samples = synthesizer.play(notes, steps_per_beat, tempo_bpm, program, timeout)
        except BaseException:
            synthesizer.close()  # whatever state it was left in, it is not reused
            raise
        with self.lock:
            if len(self.idle) < MAX_IDLE_SYNTHESIZERS:
                self.idle.append(synthesizer)
                synthesizer = None
        if synthesizer is not None:
            synthesizer.close()
        return samples


_pools: dict[tuple[str, int], SynthesizerPool] = {}
_pools_lock = threading.Lock()


def library_pool(soundfont: Path | None, sample_rate: int) -> SynthesizerPool | None:
    """The process's synthesizers for this soundfont, or None when libfluidsynth or the soundfont is missing."""
    library = load_library()
    if library is None or soundfont is None:
        return None
    key = (str(soundfont), sample_rate)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = SynthesizerPool(library, soundfont, sample_rate)
        return _pools[key]


__all__ = ["RenderTimeout", "library_pool", "load_library"]

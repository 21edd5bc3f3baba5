"""Notes -> sound: FluidSynth with a General MIDI soundfont, or a small built-in synthesiser.

FluidSynth (Debian packages `fluidsynth` and `fluid-soundfont-gm`) runs as a
library in this process (`fluidsynth_library`: the soundfont stays loaded
between pieces), or as the `fluidsynth` command when that is configured or the
library cannot be loaded; either way under a time limit. When it is missing,
fails or times out, the built-in synthesiser (a few decaying harmonics per
note, in NumPy) plays the piece instead and `Rendering.note` says why, in
words for the listener.

Environment: `DSL_HUB_FLUIDSYNTH` (run this fluidsynth program for each piece
instead of the library), `DSL_HUB_SOUNDFONT` (a .sf2 file),
`DSL_HUB_RENDER_TIMEOUT` (seconds, default 30).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from models.lstm_composer.midi_codec import Note, notes_to_midi

from .fluidsynth_library import RenderTimeout, library_pool

SAMPLE_RATE = 22050
MAX_AUDIO_SECONDS = 600.0
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)

# General MIDI program names (0-based), for the instrument control.
GM_PROGRAMS = {
    "Acoustic Grand Piano": 0, "Harpsichord": 6, "Celesta": 8, "Music Box": 10, "Vibraphone": 11,
    "Marimba": 12, "Church Organ": 19, "Accordion": 21, "Acoustic Guitar (nylon)": 24, "Violin": 40,
    "Cello": 42, "Orchestral Harp": 46, "String Ensemble": 48, "Choir Aahs": 52, "Trumpet": 56,
    "French Horn": 60, "Clarinet": 71, "Flute": 73, "Pan Flute": 75, "Ocarina": 79,
}


@dataclass
class Rendering:
    sample_rate: int
    samples: np.ndarray  # int16, mono
    engine: str  # what made the sound, e.g. "FluidSynth (FluidR3_GM.sf2)"
    note: str = ""  # why the fallback was used, or that the audio was cut; empty when all went as planned

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def find_soundfont() -> Path | None:
    configured = os.environ.get("DSL_HUB_SOUNDFONT")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    return next((Path(path) for path in SOUNDFONT_CANDIDATES if Path(path).is_file()), None)


def find_fluidsynth() -> str | None:
    configured = os.environ.get("DSL_HUB_FLUIDSYNTH")
    if configured:
        return configured if Path(configured).is_file() and os.access(configured, os.X_OK) else None
    return shutil.which("fluidsynth")


def render_timeout() -> float:
    try:
        return max(1.0, float(os.environ.get("DSL_HUB_RENDER_TIMEOUT", "30")))
    except ValueError:
        return 30.0


def notes_to_seconds(notes: list[Note], steps_per_beat: int, tempo_bpm: float) -> list[tuple[float, float, int]]:
    """(start, length, pitch) in seconds for notes given in grid steps."""
    step = 60.0 / tempo_bpm / steps_per_beat
    return [(note.onset * step, note.duration * step, note.pitch) for note in notes]


def render(notes: list[Note], steps_per_beat: int, tempo_bpm: float, program: int,
           timeout: float | None = None) -> Rendering:
    """Play notes (grid steps) at `tempo_bpm` on General MIDI `program`; at most MAX_AUDIO_SECONDS."""
    notes, cut = _within_limit(notes, steps_per_beat, tempo_bpm)
    cut_note = f"The audio stops after {MAX_AUDIO_SECONDS / 60:.0f} minutes; the MIDI file has the whole piece." if cut else ""
    program_name = next((name for name, number in GM_PROGRAMS.items() if number == program), f"program {program}")
    soundfont = find_soundfont()
    in_process = None if os.environ.get("DSL_HUB_FLUIDSYNTH") else library_pool(soundfont, SAMPLE_RATE)
    fluidsynth = None if in_process else find_fluidsynth()
    timeout = timeout if timeout is not None else render_timeout()
    if in_process is None and fluidsynth is None:
        reason = "FluidSynth is not installed (Debian: apt-get install fluidsynth fluid-soundfont-gm)"
    elif soundfont is None:
        reason = "no General MIDI soundfont was found (Debian: apt-get install fluid-soundfont-gm, or set DSL_HUB_SOUNDFONT)"
    else:
        try:
            if in_process is not None:
                sound = in_process.render(notes, steps_per_beat, tempo_bpm, program, timeout)
                samples = _normalised(_without_trailing_silence(sound))
            else:
                samples = _fluidsynth(fluidsynth, soundfont, notes, steps_per_beat, tempo_bpm, program, timeout)
            return Rendering(SAMPLE_RATE, samples, f"FluidSynth ({soundfont.name}, {program_name})", cut_note)
        except (subprocess.TimeoutExpired, RenderTimeout) as error:
            limit = error.timeout if isinstance(error, subprocess.TimeoutExpired) else error.seconds
            reason = f"FluidSynth did not finish within {limit:g} s"  # the limit we set
        except (OSError, subprocess.CalledProcessError, wave.Error, ValueError) as error:
            reason = f"FluidSynth failed ({type(error).__name__})"
    samples = synthesize(notes_to_seconds(notes, steps_per_beat, tempo_bpm), program)
    note = f"{reason}; this is the built-in simple synthesiser instead (the MIDI file is unaffected)."
    return Rendering(SAMPLE_RATE, samples, "built-in synthesiser", " ".join(filter(None, (note, cut_note))))


def _within_limit(notes: list[Note], steps_per_beat: int, tempo_bpm: float) -> tuple[list[Note], bool]:
    limit = int(MAX_AUDIO_SECONDS * tempo_bpm / 60.0 * steps_per_beat)
    kept = [note._replace(duration=min(note.duration, limit - note.onset)) for note in notes if note.onset < limit]
    return kept, len(kept) < len(notes) or any(a.duration != b.duration for a, b in zip(kept, notes))


def _fluidsynth(program_path: str, soundfont: Path, notes, steps_per_beat, tempo_bpm, program, timeout) -> np.ndarray:
    ticks_per_step = max(1, 480 // steps_per_beat)
    midi = notes_to_midi(notes, ticks_per_step, ticks_per_step * steps_per_beat, tempo_bpm, program)
    with tempfile.TemporaryDirectory(prefix="dsl-hub-render-") as folder:
        midi_path, wav_path = Path(folder) / "piece.mid", Path(folder) / "piece.wav"
        midi.save(str(midi_path))
        command = [program_path, "-ni", "-q", "-g", "0.5", "-r", str(SAMPLE_RATE), "-o",
                   "synth.dynamic-sample-loading=1", "-F", str(wav_path), "-T", "wav", str(soundfont), str(midi_path)]
        # Its own process group, so that a renderer that hangs is stopped with everything it started.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise subprocess.TimeoutExpired(command, timeout) from None
        if process.returncode != 0:
            raise subprocess.CalledProcessError(process.returncode, command)
        return _normalised(_without_trailing_silence(_read_wav(wav_path)))


def _read_wav(path: Path) -> np.ndarray:
    """A 16-bit WAV as mono float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise ValueError("expected 16-bit samples")
        frames = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768
        channels = handle.getnchannels()
    return frames.reshape(-1, channels).mean(axis=1) if channels > 1 else frames


def _without_trailing_silence(samples: np.ndarray, threshold: float = 1e-3, keep_seconds: float = 0.2) -> np.ndarray:
    """Drop the near-silent tail FluidSynth renders after the last note has died away."""
    loud = np.nonzero(np.abs(samples) > threshold * max(1e-9, float(np.abs(samples).max(initial=0.0))))[0]
    end = (loud[-1] + int(keep_seconds * SAMPLE_RATE)) if len(loud) else 0
    return samples[:end]


def _normalised(samples: np.ndarray, peak: float = 0.89) -> np.ndarray:
    """float samples -> int16 with the loudest sample at `peak` of full scale (silence stays silent)."""
    loudest = float(np.abs(samples).max()) if len(samples) else 0.0
    scale = peak / loudest if loudest > 1e-6 else 0.0
    return (samples * scale * 32767).astype(np.int16)


def synthesize(notes: list[tuple[float, float, int]], program: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A plain additive synthesiser: each note a few harmonics under an attack-decay-release envelope.

    Sustained instruments (organs, strings, winds: GM programs 16-23 and 40-79)
    hold their level; the others decay like a plucked or struck string.
    """
    sustained = 16 <= program <= 23 or 40 <= program <= 79
    end = max((start + length for start, length, _ in notes), default=0.0) + 0.5
    out = np.zeros(int(end * sample_rate) + 1, dtype=np.float32)
    release = 0.08
    for start, length, pitch in notes:
        count = int((length + release) * sample_rate)
        if count <= 0:
            continue
        time = np.arange(count, dtype=np.float32) / sample_rate
        frequency = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = np.zeros(count, dtype=np.float32)
        for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2), (4, 0.1)):
            if harmonic * frequency < sample_rate / 2:
                tone += weight * np.sin(2 * np.pi * harmonic * frequency * time)
        attack = np.minimum(1.0, time / 0.01)
        body = np.ones(count, dtype=np.float32) * 0.8 if sustained else np.exp(-time * (1.5 + frequency / 600))
        fade = np.clip((length + release - time) / release, 0.0, 1.0)
        first = int(start * sample_rate)
        out[first:first + count] += (tone * attack * body * fade)[: len(out) - first]
    return _normalised(out)


def shortened(rendering: Rendering, seconds: float, fade: float = 2.0) -> Rendering:
    """The first `seconds` of a rendering, fading out over its last `fade` seconds when cut."""
    keep = int(seconds * rendering.sample_rate)
    if len(rendering.samples) <= keep:
        return rendering
    samples = rendering.samples[:keep].astype(np.float32)
    fade_samples = min(keep, int(fade * rendering.sample_rate))
    samples[keep - fade_samples:] *= np.linspace(1.0, 0.0, fade_samples, dtype=np.float32)
    return Rendering(rendering.sample_rate, samples.astype(np.int16), rendering.engine, rendering.note)


def write_wav(path: Path, rendering: Rendering) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rendering.sample_rate)
        handle.writeframes(rendering.samples.astype("<i2").tobytes())
    return Path(path)


# ------------------------------------------------------------------ piano roll
MAX_ROLL_WIDTH = 1600


def pixels_per_step(notes: list[Note], max_width: int = MAX_ROLL_WIDTH) -> float:
    """The piano roll's horizontal scale: 8 pixels a grid step, less when the piece would pass `max_width`."""
    total = max((note.onset + note.duration for note in notes), default=0)
    return min(8.0, max_width / max(1, total))


def piano_roll(notes: list[Note], steps_per_beat: int, primer_steps: int = 0, beats_per_bar: int = 4,
               max_width: int = MAX_ROLL_WIDTH) -> Image.Image:
    """Pitch against time; the primer's notes in blue-grey, the generated ones in orange, a line per bar.
    Its left edge is step 0, and step s is `s * pixels_per_step(notes)` pixels to the right."""
    if not notes:
        return Image.new("RGB", (400, 120), "white")
    low = max(0, min(note.pitch for note in notes) - 2)
    high = min(127, max(note.pitch for note in notes) + 2)
    row = max(2, min(8, 480 // (high - low + 1)))
    total = max(note.onset + note.duration for note in notes)
    scale = pixels_per_step(notes, max_width)
    width, height = int(total * scale) + 1, (high - low + 1) * row
    image = Image.new("RGB", (width, height), (252, 252, 250))
    draw = ImageDraw.Draw(image)
    for pitch in range(low, high + 1):
        if pitch % 12 in (1, 3, 6, 8, 10):  # black keys get a shaded row
            y = (high - pitch) * row
            draw.rectangle([0, y, width, y + row - 1], fill=(240, 240, 236))
    bar = steps_per_beat * beats_per_bar
    for step in range(0, total + 1, bar):
        draw.line([(step * scale, 0), (step * scale, height)], fill=(205, 205, 200))
    for note in notes:
        y = (high - note.pitch) * row
        x0, x1 = note.onset * scale, max(note.onset * scale + 1, (note.onset + note.duration) * scale - 1)
        color = (110, 130, 160) if note.onset < primer_steps else (230, 120, 40)
        draw.rectangle([x0, y + 1, x1, y + row - 1], fill=color)
    return image


@dataclass
class TimedRoll:
    """A piano roll and the stretch of the audio it shows: its left edge is `start` seconds into the rendering,
    its right edge `end` seconds. A page can then draw a playhead over it that follows the audio player."""

    image: Image.Image
    start: float
    end: float


def timed_piano_roll(notes: list[Note], steps_per_beat: int, tempo_bpm: float, primer_steps: int = 0) -> TimedRoll:
    """`piano_roll` with its time range: the rendering starts at step 0 (`render` adds no silence before it) and
    each step lasts 60 / tempo / steps_per_beat seconds, as `render` plays it."""
    image = piano_roll(notes, steps_per_beat, primer_steps)
    step_seconds = 60.0 / tempo_bpm / steps_per_beat
    steps = image.width / pixels_per_step(notes) if notes else 0.0
    return TimedRoll(image, 0.0, steps * step_seconds)

"""The melody VAE's two API endpoints over real HTTP, against the whole hub as `make demo` serves it."""

import json
import re
import wave
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from conftest import DATASETS, REPO_ROOT
from models.lstm_composer.midi_codec import read_score
from models.melody_vae import MelodyCodec, melody_line

SHIPPED = REPO_ROOT / "pretrained" / "melody-vae"
pytestmark = pytest.mark.skipif(not (SHIPPED / "config.json").is_file(), reason="no shipped melody-vae weights")
AUTOENCODER = "autoencoder (the slides' AE)"
CODEC = MelodyCodec()


@pytest.fixture(scope="module")
def client(hub):
    return Client(hub.url, verbose=False)


def melodies_in(midi_path: str) -> list[list[int]]:
    """The MIDI file the hub wrote, read back with the hub's reader and cut into two-bar melodies."""
    score = read_score(midi_path)
    line = melody_line([(note.onset, note.pitch, note.duration) for note in score.notes], score.ticks_per_beat)
    end = max(note.onset + note.duration for note in line)
    return [CODEC.melody_from_notes(line, start) for start in range(0, end, CODEC.num_steps)]


def seconds_of(wav_path: str) -> float:
    with wave.open(wav_path) as audio:
        return audio.getnframes() / audio.getframerate()


def test_interpolating_two_corpus_melodies_gives_one_piece_through_every_step(client):
    names = [entry["name"] for entry in json.loads((SHIPPED / "melodies.json").read_text())["melodies"]]
    first, last = names[3], names[-3]
    midi, wav, roll, latent_map, notes = client.predict(first=first, last=last, points=5,
                                                        api_name="/melody_vae_interpolate")
    played = melodies_in(midi)
    assert 4 <= len(played) <= 5  # five two-bar steps (the last may end in a rest the file does not hold)
    assert seconds_of(wav) > 4 * 8 * 60 / 100, "at least four steps of eight beats at 100 BPM"
    assert len(re.findall(r"^\| \d+ \| `", notes, re.M)) == 5, "a row for each step"
    assert f"From **{first}" in notes and "musical" in notes
    assert Path(roll).stat().st_size > 1000 and Path(latent_map).stat().st_size > 1000


def test_an_uploaded_midi_file_goes_through_the_autoencoder_on_a_straight_line(client):
    tune = sorted((DATASETS / "midi" / "folk-oneills1850").glob("*.mid"))[:1]
    if not tune:
        pytest.skip("no MIDI corpus")
    midi, wav, *_, notes = client.predict(choice=AUTOENCODER, first_file=handle_file(str(tune[0])), points=3,
                                          method="lerp", api_name="/melody_vae_interpolate")
    assert f"your MIDI file {tune[0].name}" in notes and "lerp path" in notes
    assert Path(midi).read_bytes()[:4] == b"MThd" and Path(wav).read_bytes()[:4] == b"RIFF"


def test_typed_notes_are_a_melody_and_win_over_the_corpus_name(client):
    midi, wav, *_, notes = client.predict(first_notes="C4 D4 E4 C4 | E4 F4 G4:2", last_notes="G5:1/2 A5:1/2 G5 E5 C5",
                                          points=3, api_name="/melody_vae_interpolate")
    assert notes.count("the notes you typed") == 2 and "From **the notes you typed (7 notes" in notes
    assert Path(midi).read_bytes()[:4] == b"MThd" and seconds_of(wav) > 2 * 8 * 60 / 100
    with pytest.raises(AppError, match="H4"):
        client.predict(first_notes="C4 H4", api_name="/melody_vae_interpolate")


def test_sampling_from_the_prior_repeats_with_its_seed(client):
    first = client.predict(count=3, temperature=0.5, seed=7, api_name="/melody_vae_sample")
    again = client.predict(count=3, temperature=0.5, seed=7, api_name="/melody_vae_sample")
    assert Path(first[0]).read_bytes() == Path(again[0]).read_bytes()
    assert "of 3 samples are musical" in first[3] and seconds_of(first[1]) > 2 * 8 * 60 / 100


def test_a_melody_not_in_the_list_is_refused_with_a_sentence(client):
    # the dropdowns take typed names (allow_custom_value), so the server's own check answers
    with pytest.raises(AppError, match="Unknown corpus melody '../../etc/passwd'; pick one of the 880"):
        client.predict(first="../../etc/passwd", api_name="/melody_vae_interpolate")


def test_a_file_that_is_not_midi_is_refused_and_the_tab_keeps_serving(client, tmp_path):
    letter = tmp_path / "letter.mid"
    letter.write_text("Dear VAE, this is not a MIDI file.\n")
    with pytest.raises(AppError, match="not a MIDI file"):
        client.predict(last_file=handle_file(str(letter)), api_name="/melody_vae_interpolate")
    assert "samples are musical" in client.predict(count=1, api_name="/melody_vae_sample")[3]

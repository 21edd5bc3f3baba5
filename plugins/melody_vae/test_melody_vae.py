"""`melody-vae`: the codec's round trip through MIDI, the windows, the model's shapes and KL term, the steps the
engine runs (transposition, KL annealing), the checks of music.py, uploads, and the shipped models' paths."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import mido
import numpy as np
import pytest
import torch

from models.lstm_composer.midi_codec import midi_bytes, read_score
from models.melody_vae import (
    FIRST_PITCH_TOKEN, HOLD, REST, GridNote, MelodyCodec, MelodyVaeConfig, MelodyVaeModel, gaussian_kl,
    interpolate_latents, melody_line,
)
from plugins.base import TrainingParts
from plugins.errors import UnusableInputError
from plugins.melody_vae import kl_weight
from plugins.melody_vae.data import Piece, melody_windows, synthetic_piece
from plugins.melody_vae.melodies import (
    ShippedMelodies, checked_method, checked_points, checked_sampling, chosen_melody, melody_from_typed,
    melody_from_upload,
)
from plugins.melody_vae.music import judge
from plugins.registry import get_plugin

REPO = Path(__file__).resolve().parents[2]
MIDI_CORPUS = Path(os.environ.get("DSL_HUB_DATASETS", REPO.parent / "shared" / "datasets")) / "midi"
SHIPPED = REPO / "pretrained" / "melody-vae"
CODEC = MelodyCodec()
# "Twinkle, twinkle": C C G G A A G- | F F E E D D C-, with a rest and a repeated note to keep apart from a held one
TWINKLE = [GridNote(0, 60, 2), GridNote(2, 60, 2), GridNote(4, 67, 2), GridNote(6, 67, 2), GridNote(8, 69, 2),
           GridNote(10, 69, 2), GridNote(12, 67, 4), GridNote(16, 65, 2), GridNote(18, 65, 2), GridNote(20, 64, 2),
           GridNote(22, 64, 2), GridNote(24, 62, 2), GridNote(26, 62, 1), GridNote(28, 60, 4)]


def tiny_model(variational: bool = True, **changes) -> MelodyVaeModel:
    torch.manual_seed(0)
    config = MelodyVaeConfig(embedding_size=8, encoder_hidden_size=16, latent_size=4, decoder_hidden_size=16,
                             variational=variational, **changes)
    return MelodyVaeModel(config).eval()


# ------------------------------------------------------------------ the codec
def test_melody_events_midi_and_events_again_round_trip():
    melody = CODEC.melody_from_notes(TWINKLE)
    assert melody[:4] == [CODEC.token_of(60), HOLD, CODEC.token_of(60), HOLD]  # a repeated note is two note-ons
    assert melody[27] == REST and CODEC.notes_from_melody(melody) == TWINKLE
    written = midi_bytes(CODEC.midi_from_melodies([melody], tempo_bpm=90, program=40))
    score = read_score(written)  # the hub's own bounded reader, as for an upload
    line = melody_line([(note.onset, note.pitch, note.duration) for note in score.notes], score.ticks_per_beat)
    assert CODEC.melody_from_notes(line) == melody
    assert CODEC.melody_from_notes(CODEC.notes_from_midi(mido.MidiFile(file=__import__("io").BytesIO(written)))) \
        == melody  # the codec's own reader (a Hub user's) agrees
    assert CODEC.describe(melody).startswith("C4 - C4 - G4 - G4 -")


def test_two_melodies_play_one_after_the_other():
    first, second = CODEC.melody_from_notes(TWINKLE), CODEC.melody_from_notes(TWINKLE[7:])
    score = read_score(midi_bytes(CODEC.midi_from_melodies([first, second])))
    line = melody_line([(note.onset, note.pitch, note.duration) for note in score.notes], score.ticks_per_beat)
    assert CODEC.melody_from_notes(line, start=32) == CODEC.melody_from_notes(TWINKLE[7:])


def test_the_top_line_keeps_the_highest_voice_and_the_grid_moves_onsets_to_sixteenths():
    # a chorale's two upper voices in ticks of 480 per beat: the soprano wins, the alto shows in its rest
    notes = [(0, 72, 960), (0, 64, 480), (480, 65, 480), (960, 60, 960), (1458, 74, 500)]
    assert melody_line(notes, 480) == [GridNote(0, 72, 8), GridNote(8, 60, 4), GridNote(12, 74, 4)]


def test_pitches_outside_the_range_and_hold_with_nothing_to_hold():
    with pytest.raises(ValueError, match="outside this model's range"):
        CODEC.melody_from_notes([GridNote(0, 100, 4)])
    assert CODEC.notes_from_melody([HOLD, HOLD, CODEC.token_of(60), REST, HOLD] + [REST] * 27) == [GridNote(2, 60, 1)]


def test_training_windows_are_the_codecs_melodies_and_fit_the_range_in_every_key_they_allow():
    piece = synthetic_piece(np.random.default_rng(3), "x.mid")
    windows = melody_windows(piece, CODEC, hop=8)
    assert windows and all(tokens == CODEC.melody_from_notes(piece.notes, start) for start, tokens, _, _ in windows)
    assert all((low, high) == (-6, 5) for *_, low, high in windows), "a tune in the middle fits every key"
    high_notes = Piece("high.mid", [note._replace(pitch=note.pitch + 14) for note in piece.notes])
    for start, tokens, low, high in melody_windows(high_notes, CODEC, hop=8):
        pitches = [CODEC.pitch_of(token) for token in tokens if token >= FIRST_PITCH_TOKEN]
        assert low <= 0 <= high and CODEC.min_pitch <= min(pitches) + low and max(pitches) + high <= CODEC.max_pitch
        assert high < 5, "high notes leave fewer keys above"


# ------------------------------------------------------------------ the model
def test_encoder_and_decoder_shapes():
    model = tiny_model()
    melodies = torch.randint(0, model.config.vocab_size, (3, 32))
    output = model(input_ids=melodies, labels=melodies)
    assert output.logits.shape == (3, 32, model.config.vocab_size)
    assert output.latent_mean.shape == output.latent_log_variance.shape == (3, 4)
    assert output.reconstruction_loss.shape == output.kl.shape == (3,) and output.loss.dim() == 0
    assert model.encode(melodies).shape == (3, 4)
    decoded = model.decode(torch.zeros(5, 4), temperature=1.0, seed=1)
    assert decoded.shape == (5, 32) and decoded.dtype == torch.long
    assert not (decoded[:, 0] == HOLD).any(), "nothing to hold at the first step"
    assert torch.equal(decoded, model.decode(torch.zeros(5, 4), temperature=1.0, seed=1)), "a seed repeats a draw"
    assert model.sample(2, seed=0).shape == (2, 32) and model.interpolate(melodies[0], melodies[1], 6).shape == (6, 32)
    plain = tiny_model(variational=False)
    assert plain.to_log_variance is None and plain(input_ids=melodies, labels=melodies).kl.abs().sum() == 0


def test_the_kl_term_is_the_closed_form_and_free_bits_are_free():
    mean, log_variance = torch.randn(6, 4), torch.randn(6, 4)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, (0.5 * log_variance).exp()), torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(gaussian_kl(mean, log_variance), expected, atol=1e-5)
    assert torch.equal(gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)), torch.zeros(2))  # posterior = prior
    model = tiny_model()
    melodies = torch.randint(0, model.config.vocab_size, (4, 32))
    output = model(input_ids=melodies, labels=melodies, kl_weight=2.0)  # eval mode: z is the mean
    assert torch.allclose(output.loss, (output.reconstruction_loss + 2.0 * output.kl).mean())
    assert torch.allclose(output.kl, gaussian_kl(output.latent_mean, output.latent_log_variance))
    free = tiny_model(free_bits=1000.0)(input_ids=melodies, labels=melodies)
    assert torch.allclose(free.loss, free.reconstruction_loss.mean()), "KL below the free bits costs nothing"


def test_slerp_and_lerp_run_from_one_code_to_the_other():
    start, end = torch.randn(8), torch.randn(8)
    for method in ("slerp", "lerp"):
        path = interpolate_latents(start, end, 5, method)
        assert path.shape == (5, 8) and torch.allclose(path[0], start, atol=1e-5) and torch.allclose(path[-1], end,
                                                                                                     atol=1e-5)
    unit = interpolate_latents(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 3, "slerp")
    assert torch.allclose(unit[1].norm(), torch.tensor(1.0)), "slerp keeps to the sphere"
    assert torch.allclose(interpolate_latents(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 3, "lerp")[1],
                          torch.tensor([0.5, 0.5]))


# ------------------------------------------------------------------ the training step
def test_the_step_transposes_within_range_and_ramps_the_kl_weight():
    plugin = get_plugin("melody-vae")
    preset = plugin.preset("vae")
    assert [kl_weight(preset.training, 1.0, step) for step in (0, 1500, 3000, 8000)] == [0.0, 0.5, 1.0, 1.0]
    data = plugin.synthetic_data(preset, num_examples=16, seed=0)
    batch = plugin.collate(data.train.__getitems__(list(range(16))))
    seen = []

    class Recorder(torch.nn.Module):  # the real model, recording what the step feeds it
        def __init__(self, model):
            super().__init__()
            self.model, self.config = model, model.config

        def forward(self, **inputs):
            seen.append(inputs)
            return self.model(**inputs)

    from accelerate import Accelerator

    model = Recorder(tiny_model())
    optimizer = torch.optim.Adam(model.parameters())
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    schedule.last_epoch = 1500  # as if 1,500 optimizer steps had been taken: half way up the ramp
    parts = TrainingParts({"model": model}, {"model": optimizer}, {"model": schedule})
    torch.manual_seed(1)
    metrics = plugin.training_step(parts, batch, Accelerator(cpu=True), preset.training)
    assert metrics["kl_weight"].item() == 0.5 and seen[0]["kl_weight"] == 0.5
    fed = seen[0]["input_ids"]
    moved = (fed - batch["input_ids"])[batch["input_ids"] >= FIRST_PITCH_TOKEN].view(-1)
    assert torch.equal(fed[batch["input_ids"] < FIRST_PITCH_TOKEN], batch["input_ids"][batch["input_ids"] < 2])
    assert fed.max() < model.config.vocab_size and fed.min() >= 0
    assert len(set(moved.tolist())) > 1, "melodies were moved to different keys"


# ------------------------------------------------------------------ what counts as a melody
def test_random_notes_fail_the_checks_and_a_tune_passes():
    assert judge(CODEC, CODEC.melody_from_notes(TWINKLE)).musical
    rng = np.random.default_rng(0)
    random_melodies = [rng.integers(0, CODEC.vocab_size, 32).tolist() for _ in range(200)]
    assert sum(judge(CODEC, melody).musical for melody in random_melodies) < 10
    silent_bar = CODEC.melody_from_notes(TWINKLE[:6])
    assert judge(CODEC, silent_bar).reasons == ("a silent bar",)


@pytest.mark.skipif(not (SHIPPED / "melodies.json").is_file(), reason="no shipped melody-vae folder")
def test_most_held_out_corpus_melodies_pass_the_checks():
    melodies = [entry["tokens"] for entry in json.loads((SHIPPED / "melodies.json").read_text())["melodies"]]
    share = sum(judge(CODEC, melody).musical for melody in melodies) / len(melodies)
    assert len(melodies) > 500 and share > 0.93, share  # music.py: 95.2 % of validation and test melodies


# ------------------------------------------------------------------ uploads
def test_an_uploaded_file_gives_its_first_two_bars_moved_into_range(tmp_path):
    high = [GridNote(note.onset + 8, note.pitch + 36, note.duration) for note in TWINKLE]  # C7, after a rest
    wide = MelodyCodec(48, 127, num_steps=48)
    path = tmp_path / "high.mid"
    path.write_bytes(midi_bytes(wide.midi_from_melodies([wide.melody_from_notes(high)])))
    tokens, name = melody_from_upload(CODEC, path)
    # from its first note, two octaves down: the smallest move by octaves that fits C3-C6
    assert CODEC.notes_from_melody(tokens) == [note._replace(pitch=note.pitch + 12) for note in TWINKLE]
    assert "moved -24 semitones" in name and "high.mid" in name
    for data, message in [(b"", "empty"), (b"RIFF....", "not a MIDI file"), (b"MThd\x00\x00", "damaged")]:
        path.write_bytes(data)
        with pytest.raises(UnusableInputError, match=message):
            melody_from_upload(CODEC, path)
    shipped = ShippedMelodies({"a tune": CODEC.melody_from_notes(TWINKLE)})
    with pytest.raises(UnusableInputError, match="Unknown corpus melody"):
        chosen_melody(CODEC, shipped, "../../etc/passwd", None)
    assert chosen_melody(CODEC, shipped, "a tune", None)[0] == CODEC.melody_from_notes(TWINKLE)


def test_typed_note_names_give_the_same_melody_as_the_file_and_win_over_the_corpus_name():
    typed = "C5:1/2 C5:1/2 G5:1/2 G5:1/2 A5:1/2 A5:1/2 G5 | F5:1/2 F5:1/2 E5:1/2 E5:1/2 D5:1/2 D5:1/4 .:1/4 C5"
    tokens, description = melody_from_typed(CODEC, typed)
    # an octave above TWINKLE, which fits C3-C6 as typed: kept where it is
    assert CODEC.notes_from_melody(tokens) == [note._replace(pitch=note.pitch + 12) for note in TWINKLE]
    assert "14 notes" in description and "moved" not in description
    low, _ = melody_from_typed(CODEC, typed.replace("5", "1"))  # C1..: two octaves up, the least that fits
    assert CODEC.notes_from_melody(low) == [note._replace(pitch=note.pitch - 12) for note in TWINKLE]
    shipped = ShippedMelodies({"a tune": CODEC.melody_from_notes(TWINKLE)})
    assert chosen_melody(CODEC, shipped, "a tune", None, typed)[0] == tokens
    assert chosen_melody(CODEC, shipped, "a tune", None, "   ")[0] == CODEC.melody_from_notes(TWINKLE)
    for text, message in [("C4 H4", "H4"), (". . .", "only rests"), ("C1 C7", "wider than this model's range"),
                          (["C4"], "must be text")]:
        with pytest.raises(UnusableInputError, match=message):
            chosen_melody(CODEC, shipped, "a tune", None, text)


@pytest.mark.parametrize(("check", "value", "message"), [
    (checked_points, 40, "Steps must lie between 3 and 17"), (checked_points, 2.5, "between 3 and 17"),
    (checked_points, "nine", "must be a number"), (checked_method, "cubic", "Path must be one of slerp, lerp"),
    (lambda value: checked_sampling(value, 0.5, 0), 100, "Melodies must lie between 1 and 8"),
    (lambda value: checked_sampling(2, value, 0), float("nan"), "Temperature must be a finite number"),
    (lambda value: checked_sampling(2, 0.5, value), -1, "Seed must lie between"),
])
def test_request_values_are_checked_on_the_server(check, value, message):
    # what the HTTP API can send past the page's sliders and radios
    with pytest.raises(UnusableInputError, match=message):
        check(value)


# ------------------------------------------------------------------ the shipped models
@pytest.mark.skipif(not (SHIPPED / "config.json").is_file(), reason="no shipped melody-vae folder")
def test_interpolation_ends_decode_to_nearly_the_input_melodies():
    plugin = get_plugin("melody-vae")
    model = plugin.load_for_demo(SHIPPED)
    shipped = ShippedMelodies.load(SHIPPED, model.codec)
    melodies = list(shipped.tokens.values())[:40]
    matched = []
    for first, last in zip(melodies[::2], melodies[1::2]):
        path = model.interpolate(first, last, num_steps=5)
        assert torch.equal(path[[0, -1]], model.decode(model.encode([first, last]))), "the ends are the codes' own"
        matched += [(path[0] == torch.tensor(first)).float().mean().item(),
                    (path[-1] == torch.tensor(last)).float().mean().item()]
    assert sum(matched) / len(matched) > 0.85, matched


@pytest.mark.skipif(not (SHIPPED / "results.json").is_file(), reason="no shipped melody-vae folder")
def test_the_shipped_vae_keeps_the_issues_claim():
    """The best model's midpoints are musical at least as often as its prior samples (within two standard
    errors), and more often than the autoencoder's midpoints over the same pairs by more than two errors."""
    from plugins.melody_vae.evaluation import paired_difference

    best = json.loads((SHIPPED / "results.json").read_text())["test"]
    midpoints, samples = best["interpolation"]["slerp"]["midpoint_musical"], best["prior_samples"]["musical"]
    assert midpoints[0] >= samples[0] - 2 * math.hypot(midpoints[1], samples[1])
    plain_folder = REPO / "pretrained" / "melody-vae-autoencoder"
    if (plain_folder / "results.json").is_file():
        plain = json.loads((plain_folder / "results.json").read_text())["test"]
        difference, error = paired_difference(best["interpolation"]["slerp"]["midpoint_verdicts"],
                                              plain["interpolation"]["slerp"]["midpoint_verdicts"])
        assert difference > 2 * error, (difference, error)

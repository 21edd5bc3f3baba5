"""The composer plugin around the model: corpus, training step, novelty, audio, the compose entry point, the demo API."""

import dataclasses
import math
import os
import stat
import time

import numpy as np
import pytest
import torch
from accelerate import Accelerator

from conftest import REPO_ROOT, free_port
from models.lstm_composer import ComposeSettings, LstmComposerConfig, LstmComposerForCausalLM
from models.lstm_composer.midi_codec import (
    BOS, EOS, PAD, Note, PerformanceCodec, SPECIAL_TOKENS, midi_bytes, notes_to_midi,
)
from plugins.base import TrainingParts
from plugins.errors import DataError, UnusableInputError
from plugins.lstm_composer import LstmComposerPlugin
from plugins.lstm_composer.audio import piano_roll, render, synthesize, timed_piano_roll
from plugins.lstm_composer.composing import (
    LOOP_BARS, NO_REMEDIES, Remedies, compose_piece, default_remedies, describe, request_settings,
)
from plugins.lstm_composer.data import build_corpus, chunk_stream, synthetic_midi
from plugins.lstm_composer.novelty import NoveltyIndex, load_corpus, piece_shape, save_corpus
from plugins.registry import get_plugin

CODEC = PerformanceCodec()
TUNE = [Note(0, 60, 12), Note(12, 62, 6), Note(18, 64, 6), Note(24, 65, 24), Note(24, 53, 24)]


def tune_bytes(notes=TUNE) -> bytes:
    return midi_bytes(notes_to_midi(notes, 40, 480, 100.0, 0))


def tiny_model(seed=0) -> LstmComposerForCausalLM:
    torch.manual_seed(seed)
    config = LstmComposerConfig(vocabulary=CODEC.vocabulary, embedding_size=16, hidden_size=24, num_layers=2)
    return LstmComposerForCausalLM(config).eval()


# ------------------------------------------------------------------ corpus
def test_corpus_is_found_recursively_split_by_piece_and_reports_skipped_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    (tmp_path / "a" / "deeper").mkdir(parents=True)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-linked"
    elsewhere.mkdir()
    for index in range(12):
        folder = [tmp_path / "a", tmp_path / "a" / "deeper", elsewhere][index % 3]
        synthetic_midi(rng).save(str(folder / f"tune{index}.{'MID' if index == 4 else 'mid'}"))
    (tmp_path / "linked").symlink_to(elsewhere, target_is_directory=True)
    (tmp_path / "a" / "broken.midi").write_bytes(b"MThd\x00\x00")
    (tmp_path / "a" / "empty.mid").write_bytes(b"")
    (tmp_path / "a" / "notes.txt").write_text("not a MIDI file name")
    corpus = build_corpus(tmp_path, {"codec": "performance"})
    names = [piece.name for piece in corpus.train + corpus.validation]
    assert len(names) == 12 and any(name.startswith("linked/") for name in names)
    assert not {piece.name for piece in corpus.train} & {piece.name for piece in corpus.validation}
    assert len(corpus.validation) == 1
    assert sum(corpus.skipped.values()) == 2 and set(corpus.skipped) == {
        "The MIDI file is empty", "The MIDI file is damaged or truncated and cannot be read"}
    text = corpus.statistics(len(CODEC.vocabulary))
    assert "11 training + 1 validation" in text and "skipped files: 2" in text and "empty.mid" in text
    again = build_corpus(tmp_path, {"codec": "performance"})
    assert [p.name for p in again.validation] == [p.name for p in corpus.validation], "the split is fixed"


def test_corpus_errors_say_how_to_fix_them(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        build_corpus(tmp_path / "missing", {})
    with pytest.raises(DataError, match="no .mid"):
        build_corpus(tmp_path, {})
    with pytest.raises(DataError, match="--data-dir"):
        get_plugin("lstm-composer").load_data(None, get_plugin("lstm-composer").preset(), 0)


def test_chunks_predict_every_token_once():
    pieces = [[10, 11, 12], [20, 21, 22, 23, 24]]
    chunks = chunk_stream(pieces, window=4)
    stream = [BOS, 10, 11, 12, EOS, BOS, 20, 21, 22, 23, 24, EOS]
    assert chunks.shape == (3, 5)
    targets = [int(token) for chunk in chunks for token in chunk[1:] if token != PAD]
    assert targets == stream[1:]
    assert all(chunks[i + 1, 0] == chunks[i, -1] for i in range(len(chunks) - 1))


def test_training_step_transposes_whole_chunks_with_the_global_rng():
    plugin = get_plugin("lstm-composer")
    preset = plugin.preset("best")
    data = plugin.synthetic_data(preset, 8, 0)
    model = LstmComposerForCausalLM(plugin.build_config(preset, data))
    table = plugin._transposition_table(model, range(-5, 7), "cpu")
    ids = data.train.fields["input_ids"][:4]
    shifted = table[torch.tensor([[8]] * 4), ids]  # +3 semitones
    tokens = [CODEC.vocabulary[i] for i in ids[0].tolist()]
    moved = [CODEC.vocabulary[i] for i in shifted[0].tolist()]
    for before, after in zip(tokens, moved):
        if before.startswith("note_"):
            assert int(after[5:]) == int(before[5:]) + 3
        else:
            assert after == before
    parts = TrainingParts({"model": model}, {"model": torch.optim.SGD(model.parameters(), lr=0.1)})
    torch.manual_seed(1)
    first = plugin.training_step(parts, {"input_ids": ids}, Accelerator(cpu=True), preset.training)
    assert math.isfinite(first["loss"].item()) and 0 <= first["accuracy"].item() <= 1


# ------------------------------------------------------------------ novelty and shape
def test_copy_rate_finds_quotations_in_any_key_and_nothing_in_new_material():
    rng = np.random.default_rng(0)
    # shift, note, duration, ... with pitches in the middle range (transposing by a few semitones stays in 0-127)
    pieces = [[[3 + int(rng.integers(0, 48)), CODEC.note_ids[int(rng.integers(40, 90))], 179 + int(rng.integers(0, 96))]
               [i % 3] for i in range(300)] for _ in range(5)]
    index = NoveltyIndex.build(pieces, CODEC.transposition_table(range(-5, 7)))
    quote = pieces[2][100:180]
    assert index.copy_rate(quote, 8) == 1.0 and index.copy_rate(quote, 16) == 1.0
    table = np.asarray(CODEC.transposition_table(range(-5, 7)))
    assert index.copy_rate(table[7][quote].tolist(), 16) == 1.0, "transposed up 2 semitones: still a quotation"
    fresh = [[3 + int(rng.integers(0, 48)), CODEC.note_ids[int(rng.integers(40, 90))], 179 + int(rng.integers(0, 96))]
             [i % 3] for i in range(200)]
    assert index.copy_rate(fresh, 8) == 0.0
    half = quote[:40] + fresh[:40]
    assert 0.3 < index.copy_rate(half, 8) < 0.6
    assert index.copy_rate(quote[:5], 8) is None
    strict = NoveltyIndex.build(pieces)
    assert strict.copy_rate(table[7][quote].tolist(), 16) < 1.0


def test_corpus_file_round_trips(tmp_path):
    pieces = [[5, 6, 7, 8] * 10, [9, 10, 11] * 20]
    save_corpus(tmp_path, pieces, [[30, 31, 32], [40]], ["folk/a.mid", "bach/b.mid"], CODEC.transposition_table(range(-1, 2)))
    shipped = load_corpus(tmp_path)
    assert shipped.primers == {"folk/a.mid": [30, 31, 32], "bach/b.mid": [40]}
    assert shipped.index.copy_rate([5, 6, 7, 8] * 4, 8) == 1.0
    assert load_corpus(tmp_path / "nothing") is None


def test_piece_shape_sees_rhythm_and_loops():
    looped = [Note(bar * 48 + beat * 12, 60 + beat, 12) for bar in range(8) for beat in range(4)]
    shape = piece_shape(looped, 12)
    assert shape.bars == 8 and shape.distinct_bar_share == 1 / 8 and shape.longest_loop_bars == 8
    assert shape.distinct_durations == 1 and shape.main_duration_share == 1.0
    assert shape.distinct_pitches == 4 and shape.main_pitch_share == 1 / 4
    varied = piece_shape(TUNE, 12)
    assert varied.distinct_durations == 3 and varied.longest_loop_bars == 1
    drone = piece_shape([Note(step * 12, 60, 12) for step in range(10)] + [Note(120, 67, 12)], 12)
    assert drone.distinct_pitches == 2 and drone.main_pitch_share == 10 / 11


# ------------------------------------------------------------------ audio
def test_fluidsynth_renders_about_as_long_as_the_music():
    rendering = render(TUNE, 12, 120.0, 0)
    if rendering.engine == "built-in synthesiser":
        pytest.skip(f"FluidSynth unavailable here: {rendering.note}")
    assert rendering.note == "" and "FluidSynth" in rendering.engine
    assert 1.9 <= rendering.seconds <= 6.0  # 4 beats at 120 BPM, plus the piano's release
    assert np.abs(rendering.samples).max() > 10_000


def _loudness_and_timbre(samples: np.ndarray, window: int = 441) -> tuple[np.ndarray, np.ndarray]:
    """A rendering's loudness every 20 ms (at 22,050 Hz) and its average spectrum: what a listener compares."""
    samples = samples.astype(np.float64)
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    loudness = np.sqrt((frames ** 2).mean(axis=1))
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(window), axis=1)).mean(axis=0)
    return loudness, spectrum


def _agreement(first: np.ndarray, second: np.ndarray) -> float:
    length = min(len(first), len(second))
    return float(np.corrcoef(first[:length], second[:length])[0, 1])


def test_fluidsynth_in_the_hub_process_sounds_like_the_fluidsynth_program(monkeypatch):
    """The library renderer plays the notes with the settings of `fluidsynth -F` (its MIDI player rounds event
    times to milliseconds, the library renderer places them on FluidSynth's 64-frame blocks: a few ms apart at
    most), so loudness over time and the spectrum agree; a reused synthesizer plays the next piece the same way
    but for what its reverb and chorus still hold of the last one."""
    from plugins.lstm_composer.audio import find_fluidsynth, find_soundfont
    from plugins.lstm_composer.fluidsynth_library import load_library

    if load_library() is None or find_fluidsynth() is None or find_soundfont() is None:
        pytest.skip("libfluidsynth, the fluidsynth program or a soundfont is missing here")
    tune = [Note(step * 3, 55 + (step * 7) % 24, 3 + step % 4 * 3) for step in range(40)]
    in_process = render(tune, 12, 132.0, 0)
    render(list(reversed(TUNE)), 12, 96.0, 40)  # another piece on another instrument in between
    again = render(tune, 12, 132.0, 0)
    monkeypatch.setenv("DSL_HUB_FLUIDSYNTH", find_fluidsynth())
    program = render(tune, 12, 132.0, 0)
    assert in_process.note == program.note == "" and in_process.engine == program.engine
    assert abs(in_process.seconds - program.seconds) < 0.2
    for ours, theirs in zip(_loudness_and_timbre(in_process.samples), _loudness_and_timbre(program.samples)):
        assert _agreement(ours, theirs) > 0.98
    assert _agreement(in_process.samples, again.samples) > 0.995  # the last piece's reverb, 1000x quieter


def test_a_rendering_past_its_time_limit_falls_back_with_a_clear_note():
    rendering = render(TUNE * 1, 12, 120.0, 0, timeout=1e-9)
    if rendering.engine == "built-in synthesiser" and "not installed" in rendering.note:
        pytest.skip(f"FluidSynth unavailable here: {rendering.note}")
    assert rendering.engine == "built-in synthesiser" and "did not finish within 1e-09 s" in rendering.note
    assert np.abs(rendering.samples).max() > 10_000


def test_missing_fluidsynth_or_soundfont_falls_back_with_a_clear_note(monkeypatch, tmp_path):
    monkeypatch.setenv("DSL_HUB_FLUIDSYNTH", str(tmp_path / "no-such-fluidsynth"))
    rendering = render(TUNE, 12, 120.0, 0)
    assert rendering.engine == "built-in synthesiser" and "FluidSynth is not installed" in rendering.note
    assert np.abs(rendering.samples).max() > 10_000 and 1.9 <= rendering.seconds <= 3.0
    monkeypatch.delenv("DSL_HUB_FLUIDSYNTH")
    monkeypatch.setenv("DSL_HUB_SOUNDFONT", str(tmp_path / "missing.sf2"))
    if render(TUNE, 12, 120.0, 0).note.startswith("FluidSynth is not installed"):
        pytest.skip("FluidSynth is not installed here")
    assert "no General MIDI soundfont" in render(TUNE, 12, 120.0, 0).note


def test_a_hanging_renderer_is_stopped_and_the_piece_still_plays(monkeypatch, tmp_path):
    hanging = tmp_path / "fluidsynth"
    hanging.write_text("#!/bin/sh\nsleep 60\n")
    hanging.chmod(hanging.stat().st_mode | stat.S_IEXEC)
    soundfont = tmp_path / "any.sf2"
    soundfont.write_bytes(b"RIFF")
    monkeypatch.setenv("DSL_HUB_FLUIDSYNTH", str(hanging))
    monkeypatch.setenv("DSL_HUB_SOUNDFONT", str(soundfont))
    started = time.monotonic()
    rendering = render(TUNE, 12, 120.0, 0, timeout=1.0)
    assert time.monotonic() - started < 10
    assert rendering.engine == "built-in synthesiser" and "did not finish within 1 s" in rendering.note


def test_built_in_synthesiser_places_notes_in_time():
    samples = synthesize([(0.5, 0.25, 69)], sample_rate=8000)
    loud = np.nonzero(np.abs(samples) > 1000)[0]
    assert 0.49 <= loud[0] / 8000 <= 0.52 and loud[-1] / 8000 <= 0.86


def test_piano_roll_marks_primer_and_new_notes():
    image = np.asarray(piano_roll(TUNE, 12, primer_steps=12))
    orange = np.all(image == (230, 120, 40), axis=-1).sum()
    blue = np.all(image == (110, 130, 160), axis=-1).sum()
    assert orange > blue > 0 and image.shape[1] <= 1601


def test_a_timed_piano_roll_spans_the_seconds_the_music_plays():
    roll = timed_piano_roll(TUNE, 12, 100.0, primer_steps=12)  # the last note ends at step 48: 2.4 s at 100 BPM
    step_seconds = 60 / 100 / 12
    assert roll.start == 0 and 48 * step_seconds <= roll.end <= 48 * step_seconds + step_seconds / 8  # one pixel
    assert roll.image.width == np.asarray(piano_roll(TUNE, 12, primer_steps=12)).shape[1]


# ------------------------------------------------------------------ composing for people
SHORT = request_settings(num_tokens=16)


@pytest.mark.parametrize(("settings", "message"), [
    ({"strategy": "random"}, "Strategy"),
    ({"temperature": float("nan")}, "Temperature must be a finite number"),
    ({"temperature": "hot"}, "Temperature must be a number"),
    ({"num_tokens": 10**9}, "Length must lie between 1 and 2048"),
    ({"num_tokens": 20.5}, "Length must be a whole number"),
    ({"top_p": 0.0}, "Top-p"),
    ({"top_k": -1}, "Top-k"),
    ({"num_beams": 17}, "Beams must lie between 1 and 16"),
])
def test_bad_settings_are_refused_with_a_message(settings, message):
    with pytest.raises(UnusableInputError, match=message):
        request_settings(**{"num_tokens": 16, **settings})


def test_requests_keep_the_models_defaults_with_tighter_cost_limits():
    assert dataclasses.asdict(request_settings()) == dataclasses.asdict(ComposeSettings())
    assert ComposeSettings(num_tokens=4096, num_beams=64).num_tokens == 4096  # a Hub user may ask for more


@pytest.mark.parametrize(("options", "message"), [
    ({"seed": -1}, "Seed"),
    ({"tempo": 1e9}, "Tempo"),
    ({"instrument": "Theremin"}, "instrument"),
    ({"primer_source": "../etc/passwd"}, "Primer source"),
    ({"primer_source": "corpus"}, "ship no corpus"),
    ({"primer_source": "upload"}, "Choose a MIDI file"),
])
def test_bad_request_options_are_refused_with_a_message(options, message):
    with pytest.raises(UnusableInputError, match=message):
        compose_piece(tiny_model(), None, SHORT, **options)


def test_unusable_uploads_are_refused_with_a_message(tmp_path):
    drums = midi_bytes(notes_to_midi([Note(0, 36, 12)], 40, 480, 100.0, 0)).replace(b"\x90", b"\x99").replace(
        b"\x80", b"\x89")
    cases = {
        "empty.mid": (b"", "empty"),
        "random.mid": (os.urandom(2000), "not a MIDI file"),
        "truncated.mid": (tune_bytes()[:30], "damaged or truncated"),
        "drums.mid": (drums, "only drum notes"),
        "huge.mid": (tune_bytes() + b"\x00" * (6 * 2**20), "at most 5 MB"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(UnusableInputError, match=message):
            compose_piece(tiny_model(), None, SHORT, primer_source="upload", primer=str(path))
    with pytest.raises(UnusableInputError, match="could not be found"):
        compose_piece(tiny_model(), None, SHORT, primer_source="upload", primer=str(tmp_path / "gone.mid"))


def test_compose_piece_continues_an_upload_and_measures_it(tmp_path):
    upload = tmp_path / "mine.mid"
    upload.write_bytes(tune_bytes())
    pieces = [CODEC.ids_from_midi(tune_bytes())[1:] * 3]
    save_corpus(tmp_path, pieces, pieces, ["x.mid"], CODEC.transposition_table(range(-5, 7)))
    piece = compose_piece(tiny_model(), load_corpus(tmp_path), request_settings(num_tokens=64),
                          primer_source="upload", primer=str(upload), seed=3, instrument="Violin", tempo=90)
    assert piece.primer_ids == CODEC.ids_from_midi(tune_bytes()) and len(piece.new_ids) == 64
    assert piece.midi.startswith(b"MThd") and piece.rendering.samples.size > 0
    assert set(piece.copy_rates) == {8, 16} and 0.0 <= piece.copy_rates[8] <= 1.0
    text = describe(piece, "sample")
    assert "Copied from the training corpus" in text and "tokens/s" in text
    again = compose_piece(tiny_model(), load_corpus(tmp_path), request_settings(num_tokens=32),
                          primer_source="corpus", seed=3)
    assert again.primer_ids[0] == BOS and "x.mid" in again.primer_description


def test_an_upload_is_the_primer_unless_the_corpus_is_chosen(tmp_path):
    upload = tmp_path / "my tune.mid"
    upload.write_bytes(tune_bytes())
    pieces = [CODEC.ids_from_midi(tune_bytes())[1:] * 3]
    save_corpus(tmp_path, pieces, pieces, ["x.mid"], CODEC.transposition_table(range(-5, 7)))
    corpus = load_corpus(tmp_path)
    sent = compose_piece(tiny_model(), corpus, SHORT, primer_source="random", primer=str(upload))
    assert sent.primer_ids == CODEC.ids_from_midi(tune_bytes())
    assert "your MIDI file my tune.mid" in sent.primer_description
    assert compose_piece(tiny_model(), corpus, SHORT, primer_source="random").primer_description == "a few random notes"
    chosen = compose_piece(tiny_model(), corpus, SHORT, primer_source="corpus", primer=str(upload))
    assert "x.mid" in chosen.primer_description


def test_a_typed_melody_is_the_primer_and_bad_text_says_what_is_wrong(tmp_path):
    melody = "C4 E4 G4:2 . C5:1/2"
    chosen = compose_piece(tiny_model(), None, SHORT, primer_source="melody", melody=melody)
    notes, steps_per_beat = CODEC.notes_from_ids(chosen.primer_ids)
    assert [(note.pitch, note.onset, note.duration) for note in notes] == [(60, 0, 12), (64, 12, 12), (67, 24, 24),
                                                                          (72, 60, 6)]
    assert chosen.primer_description == "your melody (4 notes)"
    sent = compose_piece(tiny_model(), None, SHORT, primer_source="random", melody=melody)
    assert sent.primer_ids == chosen.primer_ids, "a melody sent with the default source is the primer"
    upload = tmp_path / "mine.mid"
    upload.write_bytes(tune_bytes())
    with pytest.raises(UnusableInputError, match="Both a MIDI file and a typed melody"):
        compose_piece(tiny_model(), None, SHORT, primer_source="random", primer=str(upload), melody=melody)
    assert compose_piece(tiny_model(), None, SHORT, primer_source="upload", primer=str(upload),
                         melody=melody).primer_ids == CODEC.ids_from_midi(tune_bytes())
    with pytest.raises(UnusableInputError, match="“H4” is not a note"):
        compose_piece(tiny_model(), None, SHORT, primer_source="melody", melody="C4 H4")
    with pytest.raises(UnusableInputError, match="Type a melody"):
        compose_piece(tiny_model(), None, SHORT, primer_source="melody", melody="  ")


@pytest.mark.parametrize(("remedies", "message"), [
    ({"repetition_penalty": 0.5}, "Repetition penalty must lie between 1 and 2"),
    ({"repetition_penalty": 3}, "Repetition penalty must lie between 1 and 2"),
    ({"repetition_penalty": float("nan")}, "Repetition penalty must be a finite number"),
    ({"repetition_penalty": "strong"}, "Repetition penalty must be a number"),
    ({"no_repeat_ngram_size": 2}, "0 \\(off\\) or at least 3"),
    ({"no_repeat_ngram_size": 65}, "No-repeat n-gram size must lie between 0 and 64"),
    ({"no_repeat_ngram_size": 4.5}, "No-repeat n-gram size must be a whole number"),
])
def test_bad_remedies_are_refused_with_a_message(remedies, message):
    with pytest.raises(UnusableInputError, match=message):
        Remedies(**remedies)


def repeats_an_ngram(ids: list[int], size: int) -> bool:
    ngrams = [tuple(ids[start:start + size]) for start in range(len(ids) - size + 1)]
    return len(set(ngrams)) < len(ngrams)


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_remedies_are_transformers_processors_and_no_ngram_repeats(strategy):
    from transformers.generation.logits_process import (
        NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor,
    )

    remedies = Remedies(repetition_penalty=1.3, no_repeat_ngram_size=3)
    assert [type(processor) for processor in remedies.processors()] == [
        RepetitionPenaltyLogitsProcessor, NoRepeatNGramLogitsProcessor]
    settings = request_settings(num_tokens=96, strategy=strategy, num_beams=3)
    model = tiny_model()
    plain = compose_piece(model, None, settings, NO_REMEDIES, seed=2)
    assert plain.new_ids == model.compose_ids(plain.primer_ids, settings=settings)[0]  # off: the model's own loop
    remedied = compose_piece(model, None, settings, remedies, seed=2)
    assert remedied.primer_ids == plain.primer_ids and len(remedied.new_ids) == 96
    assert repeats_an_ngram(plain.primer_ids + plain.new_ids, 3)  # an untrained model repeats itself at once
    assert not repeats_an_ngram(remedied.primer_ids + remedied.new_ids, 3)
    assert "repetition penalty 1.3 and no repeated 3-grams" in describe(remedied, strategy)


SHIPPED = REPO_ROOT / "pretrained" / "lstm-composer"


@pytest.fixture(scope="module")
def shipped_composer():
    if not (SHIPPED / "config.json").is_file():
        pytest.skip("no shipped weights in pretrained/lstm-composer")
    return get_plugin("lstm-composer").load_for_demo(SHIPPED), load_corpus(SHIPPED)


def test_greedy_without_remedies_loops_and_the_notes_say_so(shipped_composer):
    model, corpus = shipped_composer
    settings = request_settings(num_tokens=256, strategy="greedy")
    piece = compose_piece(model, corpus, settings, NO_REMEDIES, seed=0)
    assert piece.new_ids == model.compose_ids(piece.primer_ids, settings=settings)[0]  # greedy is the lecture's
    assert piece.shape.longest_loop_bars >= LOOP_BARS and piece.shape.main_pitch_share >= 0.5
    notes = describe(piece, "greedy")
    assert notes.startswith("**This piece loops**")
    assert f"one bar plays {piece.shape.longest_loop_bars} times in a row" in notes
    suggested = default_remedies(model)
    assert f"repetition penalty to {suggested.repetition_penalty:g}" in notes
    assert f"no-repeat n-gram size to {suggested.no_repeat_ngram_size}" in notes
    assert "**Repetition**" in notes and "different pitches" in notes


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_the_default_remedies_stop_the_loop(shipped_composer, strategy):
    model, corpus = shipped_composer
    settings = request_settings(num_tokens=256, strategy=strategy, num_beams=4)
    looped = compose_piece(model, corpus, settings, NO_REMEDIES, seed=0).shape
    piece = compose_piece(model, corpus, settings, seed=0)  # the default remedies
    assert piece.remedies == default_remedies(model)
    assert piece.shape.longest_loop_bars < LOOP_BARS < looped.longest_loop_bars
    assert piece.shape.distinct_pitches >= 3 * looped.distinct_pitches
    notes = describe(piece, strategy)
    assert "This piece loops" not in notes and "repetition penalty 1.2" in notes


# ------------------------------------------------------------------ the Gradio API
@pytest.fixture(scope="module")
def composer_app(tmp_path_factory):
    import gradio as gr

    from plugins.serving import DemoModel

    folder = tmp_path_factory.mktemp("composer-weights")
    model = tiny_model()
    plugin = get_plugin("lstm-composer")
    plugin.save_pretrained(TrainingParts({"model": model}, {}), folder, Accelerator(cpu=True))
    opening = CODEC.ids_from_midi(tune_bytes())[1:]
    save_corpus(folder, [opening * 4], [opening], ["folk/tune.mid"], CODEC.transposition_table(range(-5, 7)))
    with gr.Blocks() as app:
        plugin.build_demo({"tiny": DemoModel(plugin.load_for_demo(folder), folder, "a test folder")})
    app.queue()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    yield app
    app.close()


def test_demo_api_takes_no_arguments_and_returns_a_wav_and_a_midi_file(composer_app):
    from gradio_client import Client

    client = Client(composer_app.local_url, verbose=False)
    endpoint = client.view_api(return_format="dict")["named_endpoints"]["/lstm_composer_compose"]
    names = [parameter["parameter_name"] for parameter in endpoint["parameters"]]
    assert "primer" in names and all(parameter["parameter_has_default"] for parameter in endpoint["parameters"])
    wav, midi, roll, info = client.predict(length=32, api_name="/lstm_composer_compose")
    with open(wav, "rb") as handle:
        assert handle.read(4) == b"RIFF"
    with open(midi, "rb") as handle:
        assert handle.read(4) == b"MThd"
    assert "Copied from the training corpus" in info


def test_demo_api_refuses_a_corrupted_primer_with_a_message_and_keeps_serving(composer_app, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(composer_app.local_url, verbose=False)
    bad = tmp_path / "bad.mid"
    bad.write_bytes(tune_bytes()[:30])
    with pytest.raises(Exception, match="damaged or truncated"):
        client.predict(primer_source="upload", primer=handle_file(str(bad)), length=16,
                       api_name="/lstm_composer_compose")
    with pytest.raises(Exception, match="greater than maximum value 2048|Length must lie between"):
        client.predict(length=10**9, api_name="/lstm_composer_compose")
    with pytest.raises(Exception, match="at least 3"):
        client.predict(no_repeat_ngram_size=2, length=16, api_name="/lstm_composer_compose")
    wav, *_ = client.predict(length=16, primer_source="corpus", corpus_piece="folk/tune.mid",
                             api_name="/lstm_composer_compose")
    assert os.path.getsize(wav) > 44


def test_plugin_card_states_provenance_and_the_snippet_is_short():
    plugin = LstmComposerPlugin()
    snippet = plugin.usage_snippet("owner/repo")
    code = [line for line in snippet.splitlines() if line.strip() and not line.startswith("#")]
    assert len(code) <= 7, "the shortest code from the repo to a MIDI file and a WAV"
    assert '"owner/repo"' in snippet and ".compose(" in snippet and "piece.wav" in snippet
    assert len(SPECIAL_TOKENS) == 3


def test_the_demo_serves_the_fast_step_and_composes_the_plain_models_pieces(tmp_path):
    from plugins.lstm_composer.fast_step import FastSteps

    model = tiny_model()
    plugin = get_plugin("lstm-composer")
    plugin.save_pretrained(TrainingParts({"model": model}, {}), tmp_path, Accelerator(cpu=True))
    served = plugin.load_for_demo(tmp_path)
    assert isinstance(served.stepper_factory, FastSteps) and model.stepper_factory is None
    settings = ComposeSettings(num_tokens=48)
    assert served.compose_ids(settings=settings, seed=1) == model.compose_ids(settings=settings, seed=1)

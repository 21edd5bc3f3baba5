"""`abc-composer`: the corpus and its split, the character codec, stateful steps, the strategies, ABC -> MIDI ->
audio on real and malformed text, the engine round trip, and the tab over HTTP."""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from models.char_lm import BOS, EOS, PAD, STRATEGIES, CharCodec, CharLmConfig, CharLmForCausalLM, TuneSettings
from plugins.abc_composer.composing import (
    ComposedTune, compare, compose_tune, describe, request_settings, surprisal_html,
)
from plugins.abc_composer.data import build_corpus, chunk_stream, clean_tune, load_tunes, split_tunes, synthetic_tune
from plugins.abc_composer.music import longest_repetition, phrase_loop, playable, read_abc
from plugins.abc_composer.novelty import CopyIndex, load_corpus, note_tokens, save_corpus
from plugins.engine import TrainOptions, train
from plugins.errors import DataError, UnusableInputError
from plugins.registry import get_plugin

REAL_ABC = Path(os.environ.get("DSL_HUB_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets")) / "abc"
TUNE = """X:7
T:The Test Reel
T:Another title
Z:Transcribed by somebody
N:a note
% a comment
R:reel
M:4/4
L:1/8
K:D
"D"A2FA dAFA|"G"B2GB dBGB|\\
 A2FA dAFA|(3Bcd ef d2 d2:|
|:fgaf gefd|edcB A2 AG|FGAF GABc|d2 f2 d2 z2|]
"""
BOOK = TUNE + "\n" + TUNE.replace("X:7", "X:8").replace("The Test Reel", "Same Music") + "\n" + "\n".join(
    TUNE.replace("X:7", f"X:{9 + i}").replace("A2FA dAFA|(3Bcd", f"A2F{'ABcdefg'[i % 7]} dAFA|(3Bc{'defgabc'[i]}")
    for i in range(7)) + "\nX:30\nT:No key, no tune\nM:4/4\n"


def tiny_model(cell: str = "lstm", vocabulary=None) -> CharLmForCausalLM:
    vocabulary = vocabulary or CharCodec.build_vocabulary([TUNE])
    torch.manual_seed(0)
    config = CharLmConfig(vocabulary=vocabulary, cell=cell, embedding_size=16, hidden_size=32, num_layers=2,
                          num_heads=4, window=24, max_position_embeddings=32)
    return CharLmForCausalLM(config).eval()


# ------------------------------------------------------------------ corpus
def test_a_tune_is_cleaned_to_its_title_musical_fields_and_music():
    cleaned = clean_tune(split_tunes(TUNE)[0])
    lines = cleaned.split("\n")
    assert lines[:5] == ["T:The Test Reel", "R:reel", "M:4/4", "L:1/8", "K:D"]
    assert lines[5] == "A2FA dAFA|B2GB dBGB| A2FA dAFA|(3Bcd ef d2 d2:|"  # chords dropped, continuation joined
    assert '"' not in cleaned and "Z:" not in cleaned and "%" not in cleaned and "X:" not in cleaned
    assert clean_tune(["T:only a title", "M:4/4"]) is None


def test_corpus_is_split_by_tune_the_same_way_whatever_folders_are_read(tmp_path):
    rng = np.random.default_rng(0)
    for book in ("book-a", "book-b"):
        (tmp_path / book).mkdir()
        tunes = [f"X:{index}\n{synthetic_tune(rng, index)}\n" for index in range(60)]
        (tmp_path / book / "tunes.abc").write_text("\n".join(tunes) + BOOK)
    corpus = build_corpus(tmp_path)
    assert corpus.skipped["the same music as an earlier tune"] == 11  # 2 in BOOK, and book-b's 9 copies of BOOK
    assert corpus.skipped["no key or no music"] == 2
    train_music = {tune.music for tune in corpus.train}
    assert train_music and not train_music & {tune.music for tune in corpus.validation}
    assert 0.03 < len(corpus.validation) / (len(corpus.train) + len(corpus.validation)) < 0.2
    only_a = build_corpus(tmp_path, ["book-a"])
    assert {tune.text for tune in only_a.validation} <= {tune.text for tune in corpus.validation}
    assert {tune.text for tune in only_a.train} <= {tune.text for tune in corpus.train}
    with pytest.raises(DataError, match="book-c"):
        build_corpus(tmp_path, ["book-c"])


def test_a_repeated_book_is_read_that_many_times_in_training_only(tmp_path):
    rng = np.random.default_rng(1)
    for book in ("book-a", "book-b"):
        (tmp_path / book).mkdir()
        tunes = [f"X:{index}\n{synthetic_tune(rng, index)}\n" for index in range(40)]
        (tmp_path / book / "tunes.abc").write_text("\n".join(tunes))
    preset = get_plugin("abc-composer").presets["rnn"]
    plain = load_tunes(tmp_path, preset)
    repeated_preset = replace(preset, training=replace(
        preset.training, options={**preset.training.options, "repeat_books": {"book-b": 3}}))
    repeated = load_tunes(tmp_path, repeated_preset)

    tunes_of_b = [tune for tune in build_corpus(tmp_path).train if tune.source.startswith("book-b/")]
    codec = CharCodec(plain.extras["vocabulary"])
    characters_of_b = sum(len(codec.encode(tune.text, tune=True)) for tune in tunes_of_b)
    assert len(tunes_of_b) > 20

    def targets(split):
        return int((split.train.fields["input_ids"][:, 1:] != PAD).sum())

    assert "book-b's training tunes 3 times" in repeated.description
    assert targets(repeated) == targets(plain) + 2 * characters_of_b  # book-b's tunes twice more, nothing else
    assert torch.equal(repeated.validation.fields["input_ids"], plain.validation.fields["input_ids"])
    assert repeated.extras["train_texts"] == plain.extras["train_texts"]  # the copy index sees each tune once
    with pytest.raises(DataError, match="book-c"):
        load_tunes(tmp_path, replace(preset, training=replace(preset.training, options={"repeat_books": {"book-c": 2}})))


def test_chunks_cover_every_character_once():
    chunks = chunk_stream([[BOS, 5, 6, 7, EOS], [BOS, 8, EOS]], window=3)
    assert chunks.tolist() == [[BOS, 5, 6, 7], [7, EOS, BOS, 8], [8, EOS, 0, 0]]


@pytest.mark.skipif(not (REAL_ABC / "mit-6s191-irish").is_dir(), reason="the real ABC corpus is not here")
def test_the_real_corpus_holds_the_lab_tunes_validation_inside_the_full_one():
    lab = build_corpus(REAL_ABC, ["mit-6s191-irish"])
    full = build_corpus(REAL_ABC)
    assert len(lab.train) + len(lab.validation) > 780 and len(full.train) > 10_000
    assert {tune.text for tune in lab.validation} <= {tune.text for tune in full.validation}
    assert 0.08 < len(full.validation) / (len(full.train) + len(full.validation)) < 0.12


# ------------------------------------------------------------------ codec and model
def test_codec_round_trips_its_vocabulary_and_travels_in_the_config(tmp_path):
    codec = CharCodec(CharCodec.build_vocabulary([TUNE]))
    text = clean_tune(split_tunes(TUNE)[0])
    assert codec.decode(codec.encode(text, tune=True)) == text
    assert codec.encode(text, tune=True)[0] == BOS and codec.encode(text, tune=True)[-1] == EOS
    assert codec.encode("A€B") == codec.encode("AB") and codec.unknown("A€B") == {"€"}
    model = tiny_model()
    model.save_pretrained(tmp_path)
    again = CharLmForCausalLM.from_pretrained(tmp_path)
    assert again.config.vocabulary == model.config.vocabulary and again.codec.decode(codec.encode(text)) == text
    with pytest.raises(ValueError, match="single characters"):
        CharLmConfig(vocabulary=["<pad>", "<bos>", "<eos>", "ab"])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm", "transformer"])
def test_stateful_step_equals_full_recomputation(cell):
    model = tiny_model(cell)
    ids = torch.randint(3, model.config.vocab_size, (2, 30))
    full = model(input_ids=ids).logits
    output = model(input_ids=ids[:, :7])
    pieces, state = [output.logits], output.state
    for position in range(7, 30):
        output = model(input_ids=ids[:, position:position + 1], state=state)
        pieces.append(output.logits)
        state = output.state
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)
    bits = model.surprisal(ids[0].tolist())
    expected = torch.nn.functional.cross_entropy(full[0, :-1], ids[0, 1:], reduction="none") / torch.log(
        torch.tensor(2.0))
    if cell != "transformer":  # the transformer reads 30 characters in windows of its 24
        assert torch.allclose(torch.tensor(bits), expected, atol=1e-4)
    assert len(bits) == 29


def test_greedy_generation_is_the_argmax_of_full_recomputation():
    model = tiny_model("transformer")
    new = model.generate_tune([BOS, 5, 6], strategy="greedy", max_characters=12)[0]
    ids = [BOS, 5, 6]
    for _ in range(len(new)):
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
        logits[0] = logits[1] = -float("inf")
        ids.append(int(logits.argmax()))
        if ids[-1] == EOS:
            break
    assert ids[3:] == new


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_reproduces_with_its_seed_and_stops_at_the_end_of_the_tune(strategy):
    model = tiny_model("gru")
    settings = TuneSettings(strategy=strategy, temperature=0.8, top_k=5, top_p=0.9, max_characters=40)
    first = model.generate_tune(settings=settings, seed=3, num_sequences=2)
    assert first == model.generate_tune(settings=settings, seed=3, num_sequences=2)
    assert all(0 < len(row) <= 40 and BOS not in row and 0 not in row for row in first)
    with torch.no_grad():
        model.head.bias[EOS] = 100.0  # a model sure the tune is over
    assert model.generate_tune(settings=settings, seed=3) == [[EOS]]


def test_top_k_of_one_is_greedy_and_bad_settings_say_what_is_allowed():
    model = tiny_model()
    greedy = model.generate_tune(strategy="greedy", max_characters=30)
    assert model.generate_tune(strategy="top-k", top_k=1, max_characters=30, seed=9) == greedy
    with pytest.raises(ValueError, match="Strategy must be one of"):
        TuneSettings(strategy="beam")
    with pytest.raises(UnusableInputError, match="Max characters must lie between 1 and 3000"):
        request_settings(max_characters=10**6)
    with pytest.raises(ValueError, match="Temperature must be above 0"):
        TuneSettings(temperature=0)


# ------------------------------------------------------------------ ABC -> MIDI -> audio
def test_real_abc_becomes_notes_midi_and_audio():
    tune = read_abc(clean_tune(split_tunes(TUNE)[0]))
    assert len(tune.notes) > 30 and tune.tempo == 120.0
    assert tune.notes[0].pitch == 69  # A above middle C: "A" in K:D
    assert tune.midi().startswith(b"MThd")
    rendering = tune.render()
    assert rendering.samples.size > rendering.sample_rate  # more than a second of sound
    assert tune.piano_roll().width > 100


def test_the_longest_repeated_phrase_is_found_in_notes_and_text():
    assert longest_repetition(list("xyabcabcabcab"), 8) == (3, 2, 11)  # "abc" 3 and 2/3 times
    assert longest_repetition(list("abcdef"), 8) == (0, 0, 0)
    looping = read_abc("T:Loop\nM:4/4\nL:1/8\nK:C\nC2 " + "DEFG " * 12 + "|c4|]")
    loop = phrase_loop(looping.notes)
    assert (loop.phrase_notes, loop.plays, loop.beats) == (4, 12.0, 24.0)  # 48 eighth notes
    real = phrase_loop(read_abc(clean_tune(split_tunes(TUNE)[0])).notes)
    assert real.plays < 3


def written(text: str, settings) -> str:
    """describe() of a tune as compose_tune would measure it, without a model."""
    tune = read_abc(text)
    piece = ComposedTune(text, "T:", True, True, "", roll=None, loop=phrase_loop(tune.notes), tempo=tune.tempo,
                         timings={"seconds": 1.0, "characters": len(text), "characters_per_second": len(text)})
    return describe(piece, settings)


def test_a_looping_tune_is_called_so_with_the_remedy_and_a_real_one_is_not():
    loop = "T:Loop\nM:4/4\nL:1/8\nK:C\n" + "|".join(["G2G2 G2G2"] * 6) + "|]"  # one note, 24 times, 24 beats
    greedy = request_settings(strategy="greedy")
    notes = written(loop, greedy)
    assert notes.startswith("**This tune loops**: a phrase of 1 note plays 24 times in a row (12 s of the same")
    assert "set the repetition penalty to 1.2 and the no-repeat n-gram size to 16" in notes
    assert "greedy, no remedies against loops" in notes
    remedied = request_settings(strategy="greedy", no_repeat_ngram_size=16)
    assert "Set a smaller no-repeat n-gram size" in written(loop, remedied)
    assert "Raise the temperature" in written(loop, request_settings(strategy="top-p"))
    spaces = "T:Pad\nM:4/4\nL:1/8\nK:C\nCDEF GABc|" + " " * 300
    assert "its text repeats 1 character 300 times in a row" in written(spaces, greedy)
    real = written(clean_tune(split_tunes(TUNE)[0]), greedy)
    assert "This tune loops" not in real and "**Repetition**: its longest stretch of one repeated phrase" in real


def test_greedy_remedies_are_transformers_processors_checked_on_the_server():
    remedied = request_settings(strategy="greedy", repetition_penalty=1.2, no_repeat_ngram_size=16)
    assert [type(processor).__name__ for processor in remedied.processors()] == [
        "RepetitionPenaltyLogitsProcessor", "NoRepeatNGramLogitsProcessor"]
    assert request_settings(strategy="top-p", no_repeat_ngram_size=16).processors()[-1].__class__.__name__ == \
        "TopPLogitsWarper", "sampling keeps its own processors only"
    for values, message in (({"no_repeat_ngram_size": 3}, "at least 4 characters"),
                            ({"no_repeat_ngram_size": 201}, "between 0 and 200"),
                            ({"repetition_penalty": 0.9}, "between 1 and 2"),
                            ({"repetition_penalty": "strong"}, "must be a number")):
        with pytest.raises(UnusableInputError, match=message):
            request_settings(**values)
    model = tiny_model()
    prompt = [BOS, *model.codec.encode("T:A\nK:D\n")]
    written_ids = model.generate_tune(prompt, settings=replace(remedied, max_characters=120))[0]
    whole = prompt + written_ids
    grams = [tuple(whole[i:i + 16]) for i in range(len(whole) - 15)]
    assert len(grams) == len(set(grams)), "no 16 characters in a row twice"


@pytest.mark.skipif(not (REAL_ABC / "mit-6s191-irish").is_dir(), reason="the real ABC corpus is not here")
def test_tunes_of_the_real_books_parse_and_play():
    corpus = build_corpus(REAL_ABC)
    sample = corpus.validation[::100]
    assert sum(playable(tune.text)[0] for tune in sample) == len(sample)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("hello there", "no K: \\(key\\) line"),
    ("K:C\nabc|]]]]((((", "music21 could not read this ABC text"),
    ("T:x\nM:4/4\nL:1/8\nK:C\n", "found no notes"),
    ("K:C\n" + "a" * 30_000, "at most 20,000"),
])
def test_malformed_abc_gets_a_clear_message(text, message):
    with pytest.raises(UnusableInputError, match=message):
        read_abc(text)
    assert playable(text)[0] is False


def test_copies_are_counted_on_written_notes():
    text = clean_tune(split_tunes(TUNE)[0])
    assert note_tokens("K:C\n^c'2 \"Am\"B/ !trill!z {g}A,|") == ["^c'2", "B/", "z", "A,"]
    index = CopyIndex.build([text])
    assert index.copy_share(text) == 1.0
    assert index.copy_share("K:C\nCDEFGABc|cBAGFEDC|") == 0.0
    assert index.copy_share("K:C\nCDE|") is None


# ------------------------------------------------------------------ the plugin end to end
@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    return train(TrainOptions("abc-composer", preset="lstm", synthetic=48, max_steps=4, batch_size=8,
                              output_dir=str(tmp_path_factory.mktemp("run"))))


def test_trains_saves_a_folder_with_its_corpus_and_composes(trained_folder):
    plugin = get_plugin("abc-composer")
    model = plugin.load_for_demo(trained_folder)
    corpus = load_corpus(trained_folder)
    assert corpus is not None and corpus.openings
    piece = compose_tune(model, corpus, request_settings(max_characters=80), start="T:A\nM:4/4\nL:1/8\nK:C\n",
                         seed=1)
    assert piece.text.startswith("T:A\nM:4/4\nL:1/8\nK:C\n") and len(piece.text) > 20
    assert ("Plays" if piece.playable else "Does not play") in describe(piece, request_settings())
    continuations = compare({"one": model, "two": model}, "T:", request_settings(), seed=2, characters=40)
    assert [c.label for c in continuations] == ["one", "two"] and len(continuations[0].bits) == len(
        continuations[0].text)
    assert "bits" in surprisal_html(continuations[0])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def abc_app(trained_folder):
    import gradio as gr

    from plugins.serving import DemoModel

    plugin = get_plugin("abc-composer")
    folder = Path(trained_folder)
    save_corpus(folder, [clean_tune(split_tunes(TUNE)[0])], [clean_tune(split_tunes(TUNE)[0])])
    with gr.Blocks() as app:
        plugin.build_demo({"tiny": DemoModel(plugin.load_for_demo(folder), folder, "a test folder")})
    app.queue()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    yield app
    app.close()


def test_tab_over_http_composes_a_tune_and_its_files(abc_app):
    from gradio_client import Client

    client = Client(abc_app.local_url, verbose=False)
    endpoint = client.view_api(return_format="dict")["named_endpoints"]["/abc_composer_compose"]
    assert all(parameter["parameter_has_default"] for parameter in endpoint["parameters"])
    # A start that is a whole tune already (in the synthetic tunes' characters), so even an untrained model's
    # few characters may leave it playable.
    start = clean_tune(synthetic_tune(np.random.default_rng(5), 1).splitlines()) + "\n"
    text, abc, midi, wav, roll, info = client.predict(start=start, max_characters=50, seed=4,
                                                      api_name="/abc_composer_compose")
    assert text.startswith(start) and Path(abc).read_text().startswith("T:Synthetic 1")
    if midi is not None:
        assert Path(midi).read_bytes()[:4] == b"MThd" and Path(wav).read_bytes()[:4] == b"RIFF"
        assert "Plays" in info
    else:
        assert "Does not play" in info
    *_, info = client.predict(start=TUNE, max_characters=50, api_name="/abc_composer_compose")
    assert "Characters this model never saw were left out of the start" in info
    html = client.predict(start="T:", seed=1, api_name="/abc_composer_compare")
    assert "tiny" in html and "bits/char" in html


def test_tab_over_http_refuses_bad_input_with_a_message_and_keeps_serving(abc_app):
    from gradio_client import Client

    client = Client(abc_app.local_url, verbose=False)
    with pytest.raises(Exception, match="not in the list of choices|Strategy must be one of"):
        client.predict(strategy="beam", api_name="/abc_composer_compose")
    with pytest.raises(Exception, match="less than minimum value|Temperature must be above 0"):
        client.predict(temperature=-1, api_name="/abc_composer_compose")
    with pytest.raises(Exception, match="Unknown model|not in the list of choices"):
        client.predict(weights="nope", api_name="/abc_composer_compose")
    with pytest.raises(Exception, match="at most 2,000 are accepted"):
        client.predict(start="K:C\n" + "A" * 3000, api_name="/abc_composer_compose")
    text, *_ = client.predict(max_characters=50, api_name="/abc_composer_compose")
    assert text.startswith("T:")

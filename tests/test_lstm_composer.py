"""The LSTM composer model: teacher-forced loss, stateful generation, strategies, saving and loading; and the
hub's fast step (plugins/lstm_composer/fast_step.py, with its compiled C step), which must compose the same
pieces as the model's plain step."""

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mido
import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from models.lstm_composer import ComposeSettings, LstmComposerConfig, LstmComposerForCausalLM
from models.lstm_composer.midi_codec import BOS, SPECIAL_TOKENS, LectureCodec, PerformanceCodec, midi_bytes
from models.lstm_composer.modeling_lstm_composer import AdaptiveTemperatureLogitsWarper, LstmStepper, draw
from plugins.lstm_composer import fused_step
from plugins.lstm_composer.fast_step import (
    FastLstmStepper,
    LstmStepWeights,
    _compiled_step_works,
    _onednn_packing_works,
    install_fast_step,
)

VOCABULARY = PerformanceCodec().vocabulary


def tiny_model(seed: int = 0, fast: bool = False, **overrides) -> LstmComposerForCausalLM:
    """A small composer; `fast`: with the hub's fast step installed, as the hub serves it."""
    torch.manual_seed(seed)
    options = dict(vocabulary=VOCABULARY, embedding_size=16, hidden_size=24, num_layers=2, dropout=0.3, window=32)
    model = LstmComposerForCausalLM(LstmComposerConfig(**{**options, **overrides})).eval()
    return install_fast_step(model) if fast else model


def random_ids(length: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(len(SPECIAL_TOKENS), len(VOCABULARY), (1, length), generator=generator)


def test_loss_is_teacher_forced_on_every_position_and_skips_minus_100():
    model = tiny_model()
    ids = random_ids(20)
    output = model(input_ids=ids, labels=ids)
    manual = torch.nn.functional.cross_entropy(output.logits[0, :-1], ids[0, 1:])
    assert output.loss.item() == pytest.approx(manual.item(), rel=1e-6)
    labels = ids.clone()
    labels[0, 10:] = -100
    partial = torch.nn.functional.cross_entropy(output.logits[0, :9], ids[0, 1:10])
    assert model(input_ids=ids, labels=labels).loss.item() == pytest.approx(partial.item(), rel=1e-6)


def test_state_carry_in_forward_equals_one_long_forward():
    model = tiny_model()
    ids = random_ids(30)
    whole = model(input_ids=ids).logits
    first = model(input_ids=ids[:, :12])
    second = model(input_ids=ids[:, 12:], state=first.state)
    assert torch.allclose(torch.cat([first.logits, second.logits], 1), whole, atol=1e-5)


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_stateful_steps_give_the_logits_of_full_recomputation(fast):
    model = tiny_model(num_layers=3, fast=fast)
    ids = random_ids(40, seed=1)
    whole = model(input_ids=ids).logits[0, :, len(SPECIAL_TOKENS):]  # (40, musical tokens)
    with torch.inference_mode():  # as when composing
        stepper = model.stepper(model(input_ids=ids[:, :10]).state)
        assert isinstance(stepper, FastLstmStepper if fast else LstmStepper)
        for position in range(10, 40):
            logits = stepper.advance(ids[:, position])
            assert torch.allclose(logits[0], whole[position], atol=1e-5), position


@pytest.mark.parametrize("layout, compiled", [("copies", False), ("views", False), ("onednn", False),
                                              ("fused", True), ("views", True), ("onednn", True)])
def test_every_step_weight_layout_gives_the_logits_of_full_recomputation(layout, compiled):
    # compiled: the C functions of fused_step.py do the whole step ("fused") or each layer's state update
    if layout == "onednn" and not _onednn_packing_works(torch.float32, torch.device("cpu")):
        pytest.skip("this PyTorch has no usable oneDNN packed linear")
    if compiled and fused_step._compiler() is None:
        pytest.skip("no C compiler here for the compiled step")
    model = tiny_model(num_layers=3)
    ids = torch.cat([random_ids(30, seed=seed) for seed in range(4)])  # 4 sequences stepped together
    whole = model(input_ids=ids).logits[:, :, len(SPECIAL_TOKENS):]
    with torch.inference_mode():  # as when composing
        weights = LstmStepWeights.from_modules(model.lstm, model.embedding, model.head, layout)
        stepper = FastLstmStepper(weights, *model(input_ids=ids[:, :10]).state, compiled=compiled)
        assert (stepper.compiled is not None) == compiled
        for position in range(10, 30):
            logits = stepper.advance(ids[:, position])
            assert torch.allclose(logits, whole[:, position], atol=1e-5), position


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_a_batch_of_greedy_pieces_equals_the_single_greedy_piece(fast):
    # fast: one sequence steps with one weight layout (the compiled step where it builds), 16 with another
    # (oneDNN's packed weights where available)
    model = tiny_model(fast=fast)
    primer = [BOS, *random_ids(5, seed=3)[0].tolist()]
    single = model.compose_ids(primer, num_tokens=40, strategy="greedy")
    assert model.compose_ids(primer, num_tokens=40, strategy="greedy", num_sequences=16) == single * 16


needs_compiler = pytest.mark.skipif(fused_step._compiler() is None, reason="no C compiler here")


@needs_compiler
def test_the_compiled_step_serves_small_batches_unless_switched_off(monkeypatch):
    cpu = torch.device("cpu")
    larger = "onednn" if _onednn_packing_works(torch.float32, cpu) else "views"
    assert [LstmStepWeights.layout_for(rows, torch.float32, cpu) for rows in (1, 4, 5)] == ["fused", "fused", larger]
    assert LstmStepWeights.layout_for(1, torch.float64, cpu) == "copies"
    model = tiny_model(num_layers=3, fast=True)
    fused = model.compose_ids([BOS], num_tokens=60, strategy="sample", seed=5)
    monkeypatch.setenv(fused_step.ENVIRONMENT_SWITCH, "0")
    assert LstmStepWeights.layout_for(1, torch.float32, cpu) == "copies"
    assert model.compose_ids([BOS], num_tokens=60, strategy="sample", seed=5) == fused  # same draws, same piece
    model.stepper_factory = None  # the model's plain step
    assert model.compose_ids([BOS], num_tokens=60, strategy="sample", seed=5) == fused


@needs_compiler
@pytest.mark.parametrize("layout", ["fused", "views"])
def test_the_compiled_step_refuses_bad_tokens_and_keeps_its_state(layout):
    model = tiny_model()
    with torch.inference_mode():
        weights = LstmStepWeights.from_modules(model.lstm, model.embedding, model.head, layout)
        stepper = FastLstmStepper(weights, *model(input_ids=random_ids(5).expand(2, -1)).state, compiled=True)
        before = stepper.hidden.clone(), stepper.cell.clone()
        for tokens, error in (([3, len(VOCABULARY)], IndexError), ([3, -1], IndexError), ([3], ValueError)):
            with pytest.raises(error):
                stepper.advance(torch.tensor(tokens))
            assert torch.equal(stepper.hidden, before[0]) and torch.equal(stepper.cell, before[1])
        stepper.advance(torch.tensor([3, 4], dtype=torch.int32))  # other integer types are converted
        assert not torch.equal(stepper.hidden, before[0])


SYSTEM_COMPILER = next((path for path in fused_step.SYSTEM_COMPILERS if fused_step._executable_file(path)), None)
needs_system_compiler = pytest.mark.skipif(SYSTEM_COMPILER is None, reason="no system C compiler here")


@pytest.fixture
def fresh_build(monkeypatch):
    """The compiled step is built once per process and its result kept: build it anew here, with no compiler
    variables set, and forget this build afterwards (the next user builds again with the real environment).
    Yields the function that forgets the build."""
    def forget():
        fused_step._forget_build_for_tests()
        _compiled_step_works.cache_clear()

    for name in ("CC", fused_step.COMPILER_SWITCH, fused_step.ENVIRONMENT_SWITCH):
        monkeypatch.delenv(name, raising=False)
    forget()
    yield forget
    monkeypatch.undo()
    forget()


def shell_script(path, body: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def greedy_piece_with_pytorch_operators(model, monkeypatch) -> list[int]:  # model: with the fast step
    monkeypatch.setenv(fused_step.ENVIRONMENT_SWITCH, "0")
    try:
        return model.compose_ids([BOS], num_tokens=40, strategy="greedy")
    finally:
        monkeypatch.delenv(fused_step.ENVIRONMENT_SWITCH)


def test_without_a_usable_compiler_the_composer_steps_with_pytorch_operators(monkeypatch, fresh_build):
    model = tiny_model(num_layers=3, fast=True)
    expected = model.compose_ids([BOS], num_tokens=40, strategy="greedy")  # with the compiled step where it builds
    fresh_build()
    monkeypatch.setenv(fused_step.COMPILER_SWITCH, "/nonexistent/cc")
    assert fused_step.compiled_lstm_step() is None
    assert LstmStepWeights.layout_for(1, torch.float32, torch.device("cpu")) == "copies"
    assert model.compose_ids([BOS], num_tokens=40, strategy="greedy") == expected


def test_a_compiler_planted_first_on_path_is_never_run(tmp_path, monkeypatch, fresh_build):
    # cc first on PATH, and the tools a real compiler looks up on PATH (gcc finds `as` there)
    model = tiny_model(num_layers=3, fast=True)
    expected = greedy_piece_with_pytorch_operators(model, monkeypatch)
    marker, planted = tmp_path / "planted-ran", tmp_path / "bin"
    for name in ("cc", "gcc", "clang", "as", "ld", "collect2"):
        shell_script(planted / name, f'echo "$0" >> "{marker}"; exit 1')
    monkeypatch.setenv("PATH", f"{planted}{os.pathsep}{os.environ.get('PATH', '')}")
    assert (fused_step.compiled_lstm_step() is not None) == (SYSTEM_COMPILER is not None)
    assert model.compose_ids([BOS], num_tokens=40, strategy="greedy") == expected
    assert not marker.exists(), marker.read_text()


@pytest.mark.parametrize("kind", ["script", "shell"])
def test_cc_without_the_opt_in_is_ignored(tmp_path, monkeypatch, fresh_build, kind):
    marker = tmp_path / "cc-ran"
    script = shell_script(tmp_path / "my-cc", f'touch "{marker}"; exit 1')
    monkeypatch.setenv("CC", str(script) if kind == "script" else f"sh -c 'touch {marker}'")
    assert (fused_step.compiled_lstm_step() is not None) == (SYSTEM_COMPILER is not None)
    assert not marker.exists()


@pytest.mark.parametrize("value", ["cc", "./cc", "sh -c 'touch {marker}'", "/bin/sh -c 'touch {marker}'",
                                   "{folder}/cc ; touch {marker}", "{folder}/not-executable", "{folder}",
                                   "/nonexistent/cc"])
def test_the_compiler_opt_in_refuses_all_but_the_absolute_path_of_an_executable(tmp_path, monkeypatch, caplog,
                                                                                fresh_build, value):
    marker = tmp_path / "compiler-ran"
    shell_script(tmp_path / "cc", f'touch "{marker}"; exit 1')
    (tmp_path / "not-executable").write_text(f"#!/bin/sh\ntouch {marker}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv(fused_step.COMPILER_SWITCH, value.format(marker=marker, folder=tmp_path))
    assert fused_step.compiled_lstm_step() is None  # refused, and no other compiler is tried
    assert "is refused" in caplog.text
    assert not marker.exists()


def test_a_hanging_compiler_is_stopped_and_the_composer_steps_with_pytorch_operators(tmp_path, monkeypatch, caplog,
                                                                                    fresh_build):
    model = tiny_model(num_layers=3, fast=True)
    expected = greedy_piece_with_pytorch_operators(model, monkeypatch)
    child = tmp_path / "child-pid"
    # the compiler's own child must be stopped too: it holds no pipe of ours, and it is killed with its group
    monkeypatch.setenv(fused_step.COMPILER_SWITCH,
                       str(shell_script(tmp_path / "cc", f'sleep 60 & echo $! > "{child}"; wait')))
    started = time.monotonic()
    assert fused_step.compiled_lstm_step() is None
    assert time.monotonic() - started < 15
    assert "ran past" in caplog.text
    started = time.monotonic()
    assert model.compose_ids([BOS], num_tokens=40, strategy="greedy") == expected  # the kept failure: no second wait
    assert time.monotonic() - started < 5
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break  # gone
        if state in ("Z", "X"):
            break  # killed, not yet reaped by its new parent
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the hanging compiler's child was left running")


@pytest.mark.parametrize("succeeds", [pytest.param(True, marks=needs_system_compiler), False])
def test_concurrent_first_callers_share_one_build(tmp_path, monkeypatch, fresh_build, succeeds):
    calls = tmp_path / "calls"
    then = f'exec {SYSTEM_COMPILER} "$@"' if succeeds else "exit 1"
    monkeypatch.setenv(fused_step.COMPILER_SWITCH,
                       str(shell_script(tmp_path / "cc", f'echo run >> "{calls}"; sleep 0.5; {then}')))
    start = threading.Barrier(4)

    def first_call():
        start.wait()
        return fused_step.compiled_lstm_step()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: first_call(), range(4)))
    results.append(fused_step.compiled_lstm_step())  # later callers get the kept result, failure included
    assert calls.read_text().splitlines() == ["run"]
    assert all(result is results[0] for result in results)
    assert (results[0] is not None) == succeeds


@needs_system_compiler
@pytest.mark.parametrize("then", [
    "exit 1",  # a library written, but the compiler failed
    'mv "$out" "$out.real" && ln -s "$out.real" "$out"',  # the output is a link, not a regular file
])
def test_only_a_successful_compilers_own_regular_file_is_loaded(tmp_path, monkeypatch, fresh_build, then):
    find_output = 'out=""; previous=""; for a in "$@"; do [ "$previous" = "-o" ] && out="$a"; previous="$a"; done'
    monkeypatch.setenv(fused_step.COMPILER_SWITCH, str(shell_script(
        tmp_path / "cc", f'{SYSTEM_COMPILER} "$@" || exit 2\n{find_output}\n{then}')))
    assert fused_step.compiled_lstm_step() is None


@needs_system_compiler
def test_the_build_folder_must_be_private(tmp_path, monkeypatch, fresh_build):
    calls = tmp_path / "calls"
    monkeypatch.setenv(fused_step.COMPILER_SWITCH,
                       str(shell_script(tmp_path / "cc", f'echo run >> "{calls}"; exec {SYSTEM_COMPILER} "$@"')))
    shared = tmp_path / "shared"

    def open_folder(*args, **kwargs):
        shared.mkdir(mode=0o755)
        shared.chmod(0o755)
        return str(shared)

    monkeypatch.setattr(fused_step.tempfile, "mkdtemp", open_folder)
    assert fused_step.compiled_lstm_step() is None
    assert not calls.exists()
    assert not shared.exists()  # removed all the same


@needs_compiler
def test_loading_the_compiled_step_leaves_subnormal_floats_alone():
    # gcc < 13 links fast-maths start-up code into -ffast-math libraries, which flushes subnormals to zero in
    # the whole process; the kernel is built without it
    assert fused_step.compiled_lstm_step() is not None
    assert (torch.tensor([1e-40]) * 2).item() > 0
    assert 5e-324 * 1.0 > 0


def test_fast_steps_follow_weights_changed_after_the_first_composition():
    # the fast step's weight layout is cached: a training step (in-place update) or a dtype change must renew it
    model = tiny_model(num_layers=2, fast=True)
    ids = random_ids(12, seed=4)
    model.compose_ids([BOS], num_tokens=4, strategy="greedy")  # builds the cached layout
    with torch.no_grad():
        for parameter in model.lstm.parameters():
            parameter.mul_(1.5)
        model.embedding.weight.add_(0.1)
    for dtype in (torch.float32, torch.float64):
        model.to(dtype)
        whole = model(input_ids=ids).logits[0, :, len(SPECIAL_TOKENS):]
        with torch.inference_mode():
            logits = model.stepper(model(input_ids=ids[:, :11]).state).advance(ids[:, 11])
        assert torch.allclose(logits[0], whole[11].float(), atol=1e-5), dtype


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_greedy_generation_is_the_argmax_of_the_recomputed_sequence(fast):
    model = tiny_model(fast=fast)
    primer = [BOS, *random_ids(5, seed=2)[0].tolist()]
    generated = model.compose_ids(primer, num_tokens=60, strategy="greedy")[0]
    logits = model(input_ids=torch.tensor([primer + generated])).logits[0, len(primer) - 1:-1]
    assert generated == (logits[:, len(SPECIAL_TOKENS):].argmax(-1) + len(SPECIAL_TOKENS)).tolist()


@pytest.mark.parametrize(("strategy", "num_sequences", "options"), [
    ("greedy", 1, {}), ("greedy", 16, {}), ("sample", 1, {}), ("sample", 4, {"temperature": 1.3, "top_k": 40}),
    ("sample", 16, {"top_p": 0.9}), ("adaptive", 3, {"temperature": 0.8}), ("beam", 1, {"num_beams": 3}),
    ("beam", 1, {"num_beams": 12}),
])
def test_the_fast_step_composes_the_plain_steps_pieces(strategy, num_sequences, options):
    # 1-4 sequences take the compiled step where it builds, more take oneDNN's packed weights where available
    plain, fast = tiny_model(num_layers=3), tiny_model(num_layers=3, fast=True)
    primer = [BOS, *random_ids(6, seed=8)[0].tolist()]
    settings = ComposeSettings(num_tokens=80, strategy=strategy, **options)
    pieces = [model.compose_ids(primer, settings=settings, seed=11, num_sequences=num_sequences)
              for model in (plain, fast)]
    assert pieces[0] == pieces[1]


def test_beam_search_is_at_least_as_likely_as_greedy_and_usually_more():
    better = 0
    for seed in range(6):
        model = tiny_model(seed)
        primer = [BOS, *random_ids(4, seed=seed)[0].tolist()]
        greedy = model.compose_ids(primer, num_tokens=24, strategy="greedy")[0]
        beam, beam_score = model._beam_search(primer, 24, 8, None)
        assert beam_score == pytest.approx(model.log_likelihood(primer, beam), abs=1e-3), "scores add up"
        greedy_score = model.log_likelihood(primer, greedy)
        assert beam_score >= greedy_score - 1e-4
        better += beam_score > greedy_score + 1e-3
        assert model.compose_ids(primer, num_tokens=24, strategy="beam", num_beams=8)[0] == beam
    assert better >= 3, "a wider beam finds likelier pieces than greedy decoding"


def test_seeds_reproduce_pieces_and_special_tokens_are_never_generated():
    model = tiny_model()
    one = model.compose_ids(None, num_tokens=200, strategy="sample", temperature=1.5, seed=7)[0]
    assert one == model.compose_ids(None, num_tokens=200, strategy="sample", temperature=1.5, seed=7)[0]
    assert one != model.compose_ids(None, num_tokens=200, strategy="sample", temperature=1.5, seed=8)[0]
    assert min(one) >= len(SPECIAL_TOKENS) and len(one) == 200
    batch = model.compose_ids(None, num_tokens=50, strategy="adaptive", seed=3, num_sequences=3)
    assert len(batch) == 3 and len({tuple(row) for row in batch}) == 3


def test_draw_picks_what_torch_multinomial_picks_and_never_a_zero_probability():
    probabilities = torch.rand(16, 40).softmax(-1)
    probabilities[:, ::3] = 0.0  # as top-k / top-p leave them
    ours, torchs = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    for _ in range(50):
        drawn = draw(probabilities, ours)
        assert drawn.tolist() == torch.multinomial(probabilities, 1, generator=torchs)[:, 0].tolist()
        assert (drawn % 3 != 0).all()


def test_top_k_1_and_tiny_top_p_sample_the_greedy_piece():
    model = tiny_model()
    greedy = model.compose_ids(None, num_tokens=40, strategy="greedy")[0]
    assert model.compose_ids(None, num_tokens=40, strategy="sample", top_k=1, seed=5)[0] == greedy
    assert model.compose_ids(None, num_tokens=40, strategy="sample", top_p=1e-6, seed=5)[0] == greedy


def test_adaptive_temperature_heats_on_repeats_and_cools_otherwise():
    warper = AdaptiveTemperatureLogitsWarper(0.5)
    scores = torch.ones(2, 4)
    repeating = torch.tensor([[7, 8, 7, 8], [1, 2, 3, 4]])  # the first repeats its last 2 tokens
    out = warper(repeating, scores)
    assert warper.temperature.tolist() == pytest.approx([0.5 * 1.15, 0.5 * 0.95])
    assert torch.allclose(out, scores / warper.temperature[:, None])
    for _ in range(200):
        warper(repeating, scores)
    assert warper.temperature.tolist() == pytest.approx([5.0, 0.2]), "clamped to [0.2, 5]"
    # n = 3 and n = 4 repeats count too
    assert AdaptiveTemperatureLogitsWarper(1.0)(torch.tensor([[1, 2, 3, 1, 2, 3]]), torch.ones(1, 2)).mean() == \
        pytest.approx(1 / 1.15)


def test_bad_compose_arguments_are_refused():
    model = tiny_model()
    for kwargs in ({"strategy": "random"}, {"num_tokens": 0}, {"num_tokens": 20_001}, {"temperature": 0.0},
                   {"top_p": 0.0}, {"top_p": 1.5}, {"top_k": -1}, {"top_k": 2.5}, {"num_beams": 0},
                   {"temperature": float("nan")}, {"temperature": "hot"}, {"primer": []}, {"primer": [10_000]}):
        with pytest.raises(ValueError):
            model.compose_ids(**{"num_tokens": 5, **kwargs})
    with pytest.raises(TypeError):
        model.compose_ids(num_token=5)  # a misspelt setting is not ignored
    with pytest.raises(TypeError):
        model.compose(64)  # settings are given by name


def test_compose_settings_have_one_set_of_defaults_and_convert_whole_numbers():
    settings = ComposeSettings(num_tokens=64.0, top_k="40", num_beams=8.0, temperature=2)
    assert (settings.num_tokens, settings.top_k, settings.num_beams, settings.temperature) == (64, 40, 8, 2.0)
    assert type(settings.num_tokens) is int and type(settings.temperature) is float
    # compose and compose_ids default to the same settings: the ones the cards' figures were measured with
    assert ComposeSettings() == ComposeSettings(num_tokens=512, strategy="sample", temperature=1.0, top_k=0,
                                                top_p=0.95, num_beams=4)
    with pytest.raises(ValueError, match="Top-p must be above 0 and at most 1, got 0"):
        ComposeSettings(top_p=0)


def test_compose_gives_a_midi_file_and_continues_a_midi_primer():
    model = tiny_model()
    piece = model.compose(num_tokens=120, seed=1)
    assert isinstance(piece, mido.MidiFile)
    assert sum(message.type == "note_on" for message in piece.tracks[0]) > 0
    primer = midi_bytes(PerformanceCodec().midi_from_tokens(["note_60", "dur_12", "shift_12", "note_64", "dur_12"]))
    continued = model.compose(num_tokens=30, primer=primer, seed=1, tempo_bpm=72, program=40)
    messages = list(continued.tracks[0])
    assert next(m for m in messages if m.type == "program_change").program == 40
    assert mido.tempo2bpm(next(m for m in messages if m.type == "set_tempo").tempo) == pytest.approx(72)
    assert [m.note for m in messages if m.type == "note_on"][:2] == [60, 64], "the primer opens the piece"


def test_lecture_codec_model_composes_chords():
    chords = ["[60, 64, 67]", "[62]", "[65, 69]"]
    model = tiny_model(codec="lecture", vocabulary=LectureCodec.build_vocabulary(chords), maxnotes=2)
    primer = model.random_primer(torch.Generator().manual_seed(0))
    assert primer[0] == BOS and all(3 <= index < 6 for index in primer[1:])
    piece = model.compose(num_tokens=16, seed=0)
    assert all(m.time in (0, 120) for m in piece.tracks[0] if m.type in ("note_on", "note_off"))


@pytest.mark.parametrize("overrides", [{"codec": "abc"}, {"dropout": 1.0}, {"num_layers": 0},
                                       {"vocabulary": ["a", "b", "c"]}, {"tempo_bpm": 5000.0}, {"program": 128}])
def test_config_refuses_bad_values(overrides):
    with pytest.raises(ValueError):
        LstmComposerConfig(**{"vocabulary": VOCABULARY, **overrides})


def test_a_performance_config_must_match_its_codec():
    with pytest.raises(ValueError, match="vocabulary"):
        LstmComposerForCausalLM(LstmComposerConfig(vocabulary=VOCABULARY, max_shift_steps=24))


def test_save_pretrained_folder_loads_with_auto_classes_and_same_logits(tmp_path):
    from accelerate import Accelerator

    from plugins.base import TrainingParts
    from plugins.registry import get_plugin

    model = tiny_model()
    get_plugin("lstm-composer").save_pretrained(TrainingParts({"model": model}, {}), tmp_path, Accelerator(cpu=True))
    assert {path.name for path in tmp_path.glob("*.py")} == {"configuration_lstm_composer.py",
                                                             "modeling_lstm_composer.py", "midi_codec.py"}
    ids = random_ids(16)
    expected = model(input_ids=ids).logits
    loaded = AutoModel.from_pretrained(tmp_path, trust_remote_code=True).eval()
    assert torch.allclose(loaded(input_ids=ids).logits, expected, atol=1e-6)
    assert loaded.config.vocabulary == VOCABULARY
    # It composes with its own `compose` (no tokenizer, no `generate`): not promised as a causal LM.
    assert set(json.loads((tmp_path / "config.json").read_text())["auto_map"]) == {"AutoConfig", "AutoModel"}
    with pytest.raises(ValueError):
        AutoModelForCausalLM.from_pretrained(tmp_path, trust_remote_code=True)
    assert AutoConfig.from_pretrained(tmp_path, trust_remote_code=True).codec == "performance"

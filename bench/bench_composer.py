"""The composer against a lecture-style loop, on the same corpus, model size and machine, in one run.

    python bench/bench_composer.py --data-dir ../shared/datasets/midi [--weights pretrained/lstm-composer]

Lecture style (1304-example-04/05, written here in PyTorch): training cuts the
token stream into 128-token windows and predicts only the token after each
window; generation feeds a 128-token window and re-runs all of it for every
new token (`x[:, :-1] = x[:, 1:]; x[:, -1] = idx`), 512 tokens after a
128-token seed by default, as the lecture's loop (`for seq in range(512)`) and
our `compose_ids` do. Ours: the composer's own `forward` on chunks of 128 with
a loss on every position, and its stateful `compose_ids`, which carries (h, c)
and costs one LSTM step per token, with the step the hub serves
(plugins/lstm_composer/fast_step.py): where a C compiler exists, the C
functions of plugins/lstm_composer/fused_step.py (the whole step for up to four
sequences, each layer's state update beyond). The table also gives ours with
them switched off (LSTM_COMPOSER_FUSED_STEP=0: PyTorch operators only) and the
model's own plain step (`forward` on one token: what a Hub user's copy runs).
Sampling is plain (no top-p), as in the lecture's loop. All use the same
`LstmComposerForCausalLM` weights (the shipped model's
size), the same batch, the same threads and the same tokens of the corpus; each
is timed for a few seconds after a warm-up, alternating rounds, and each is
reported as median (min-max) over the rounds, each ratio as the ratio of medians
(min-max of the per-round ratios). Audio: `render` (FluidSynth with a General MIDI soundfont, as the
demo does) on pieces of the corpus, against their playing time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.lstm_composer import ComposeSettings, LstmComposerConfig, LstmComposerForCausalLM  # noqa: E402
from models.lstm_composer.midi_codec import PerformanceCodec, read_score  # noqa: E402
from models.lstm_composer.modeling_lstm_composer import draw  # noqa: E402
from plugins.cards import describe_hardware  # noqa: E402
from plugins.lstm_composer.audio import render  # noqa: E402
from plugins.lstm_composer.data import chunk_stream, find_midi_files  # noqa: E402
from plugins.lstm_composer.fast_step import FastSteps  # noqa: E402
from plugins.lstm_composer.fused_step import ENVIRONMENT_SWITCH  # noqa: E402
from plugins.lstm_composer.presets import PRESETS  # noqa: E402

from alternate import Comparison, Spread, alternate  # noqa: E402

WINDOW = 128
OPERATORS_ONLY = "ours, PyTorch operators only"
PLAIN = "the model's plain step"


def timed(function, seconds: float) -> float:
    """Calls per second of `function`, run for at least `seconds` after one warm-up call."""
    function()
    calls, started = 0, time.perf_counter()
    while True:
        function()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return calls / elapsed


def alternated_rates(functions: dict, units: dict, rounds: int, seconds: float) -> dict:
    """Units per second of each contender in each round, the contenders alternating (bench/alternate.py);
    `timed`'s first call is each round's warm-up."""
    return alternate({name: lambda function=function, name=name: units[name] * timed(function, seconds)
                      for name, function in functions.items()}, rounds, warmup_rounds=0)


def summaries(rates: dict) -> dict:
    return {name: Spread.of(values).as_dict() for name, values in rates.items()}


def load_model(weights: Path | None) -> LstmComposerForCausalLM:
    if weights is not None:
        return LstmComposerForCausalLM.from_pretrained(weights, dtype=torch.float32)
    codec = PerformanceCodec()
    return LstmComposerForCausalLM(LstmComposerConfig(**PRESETS["best"].model, vocabulary=codec.vocabulary))


def corpus_tokens(model, data_dir: Path, files: int) -> tuple[torch.Tensor, list[Path]]:
    every = find_midi_files(data_dir)
    paths = every[:: max(1, len(every) // files)][:files]
    pieces = []
    for path in paths:
        pieces.append(model.codec.ids_from_midi(path)[1:])
    return chunk_stream(pieces, WINDOW), paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="a folder of .mid files (the corpus)")
    parser.add_argument("--weights", type=Path, help="a save_pretrained folder (default: the best preset, untrained)")
    parser.add_argument("--files", type=int, default=60, help="corpus files to tokenise (spread over the folder)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch (both loops)")
    parser.add_argument("--tokens", type=int, default=512, help="tokens generated per timed call (the lecture's 512)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per contender, alternating")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per timed round")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = load_model(args.weights)
    chunks, paths = corpus_tokens(model, args.data_dir, args.files)
    batch = chunks[: args.batch_size]
    if len(batch) < args.batch_size:
        raise SystemExit(f"only {len(chunks)} chunks of {WINDOW} tokens in {args.files} files; use more --files")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    # ---- supervised training: ours predicts all 128 positions, the lecture only the 129th token
    def ours_train_step():
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def lecture_train_step():
        hidden, _ = model.lstm(model.embedding(batch[:, :WINDOW]))  # (batch, 128, hidden)
        logits = model.head(model.dropout(hidden[:, -1]))  # Keras' last LSTM has return_sequences=False
        loss = F.cross_entropy(logits, batch[:, WINDOW])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    training = alternated_rates({"ours": ours_train_step, "lecture": lecture_train_step},
                                {"ours": args.batch_size * WINDOW, "lecture": args.batch_size},
                                args.rounds, args.seconds)
    model.eval()

    # ---- generation: ours carries the state; the lecture re-runs a 128-token window per token
    primer = chunks[0, :WINDOW].tolist()

    fast_steps = FastSteps()  # what the hub's load_for_demo installs (install_fast_step)

    def ours_generate(batch_size: int, greedy: bool, compiled_step: bool = True, fast: bool = True):
        settings = ComposeSettings(num_tokens=args.tokens, strategy="greedy" if greedy else "sample", top_p=1.0)

        def run():
            previous = os.environ.get(ENVIRONMENT_SWITCH)
            os.environ[ENVIRONMENT_SWITCH] = "1" if compiled_step else "0"
            model.stepper_factory = fast_steps if fast else None
            try:
                model.compose_ids(primer, settings=settings, seed=0, num_sequences=batch_size)
            finally:
                model.stepper_factory = None
                if previous is None:
                    del os.environ[ENVIRONMENT_SWITCH]
                else:
                    os.environ[ENVIRONMENT_SWITCH] = previous
        return run

    def lecture_generate(batch_size: int, greedy: bool):
        generator = torch.Generator().manual_seed(0)

        @torch.inference_mode()
        def run():
            window = torch.tensor([primer] * batch_size)
            previous = torch.get_num_threads()
            torch.set_num_threads(1)  # the same single intra-op thread as compose_ids
            try:
                for _ in range(args.tokens):
                    hidden, _ = model.lstm(model.embedding(window))
                    logits = model.head(hidden[:, -1])[:, 3:]  # special tokens never chosen, as in ours
                    if greedy:
                        token = logits.argmax(-1) + 3
                    else:
                        token = draw(logits.softmax(-1), generator) + 3  # the composer's sampler, on both sides
                    window = torch.cat([window[:, 1:], token[:, None]], dim=1)  # roll the window
            finally:
                torch.set_num_threads(previous)
        return run

    generation = {}
    for batch_size, greedy in ((1, True), (1, False), (16, True), (16, False)):
        label = f"batch {batch_size}, {'greedy' if greedy else 'sampling'}"
        contenders = {"ours": ours_generate(batch_size, greedy), "lecture": lecture_generate(batch_size, greedy),
                      OPERATORS_ONLY: ours_generate(batch_size, greedy, compiled_step=False),
                      PLAIN: ours_generate(batch_size, greedy, fast=False)}
        generation[label] = alternated_rates(contenders, dict.fromkeys(contenders, batch_size * args.tokens),
                                             args.rounds, args.seconds)

    # ---- audio: MIDI -> WAV with FluidSynth (what the demo plays) against the music's length
    audio_seconds = wall = 0.0
    engines = set()
    codec = model.codec
    for path in paths[:10]:
        notes = codec.grid_notes(read_score(path))
        started = time.perf_counter()
        rendering = render(notes, codec.steps_per_beat, 100.0, 0)
        wall += time.perf_counter() - started
        audio_seconds += rendering.seconds
        engines.add(rendering.engine)

    machine = f"{describe_hardware()}, torch {torch.__version__}, {platform.python_implementation()} {platform.python_version()}"
    size = model.config
    print(f"Composer benchmark on {machine}")
    print(f"Model: embedding {size.embedding_size}, {size.num_layers} x LSTM {size.hidden_size}, vocabulary "
          f"{size.vocab_size} ({sum(p.numel() for p in model.parameters()):,} parameters); corpus: {len(paths)} files of "
          f"{args.data_dir.name}/, {chunks.numel():,} tokens")
    print(f"Rates: median (min-max) of {args.rounds} alternating rounds of {args.seconds:g} s; ratios: the ratio of "
          "the medians (min-max of the per-round ratios)")
    print()
    print("| measure | ours | lecture style | ratio | ours, PyTorch operators only (ratio) | the model's plain step, "
          "as a Hub user's copy runs it (ratio) |")
    print("|---|---|---|---|---|---|")
    rows = [(f"supervised tokens/s (training, batch {args.batch_size})", training)]
    rows += [(f"generated tokens/s ({label})", rates) for label, rates in generation.items()]
    for name, rates in rows:
        against_lecture = {other: Comparison(rates[other], rates["lecture"]) for other in rates if other != "lecture"}
        others = [f"{against_lecture[other].ours.format(0)}; {against_lecture[other].ratio.format(0, 'x')}"
                  if other in rates else "same path (no step in training)" for other in (OPERATORS_ONLY, PLAIN)]
        print(f"| {name} | {against_lecture['ours'].ours.format(0)} | {Spread.of(rates['lecture']).format(1)} "
              f"| {against_lecture['ours'].ratio.format(0, 'x')} | {' | '.join(others)} |")
    print(f"| MIDI -> WAV ({', '.join(sorted(engines))}) | {audio_seconds / wall:.0f}x real time "
          f"({audio_seconds:.0f} s of music in {wall:.1f} s) | | | | |")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine, "rounds_rates": {"training": training, "generation": generation},
            "training": summaries(training),
            "generation": {label: summaries(rates) for label, rates in generation.items()},
            "render_real_time_factor": audio_seconds / wall, "render_engines": sorted(engines),
            "audio_seconds": audio_seconds, "settings": {k: str(v) for k, v in vars(args).items()},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

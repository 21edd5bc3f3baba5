"""The ABC composer's sequence models side by side: training and generation speed, measured in one run.

    python bench/bench_abc.py pretrained/abc-composer-rnn pretrained/abc-composer-gru pretrained/abc-composer-lstm \
        pretrained/abc-composer-transformer [--json bench/results/abc-cpu.json]

The lecture notes say a GRU is faster than an LSTM; the training runs' own
timings cannot settle that on a shared machine, so this benchmark measures every
shipped folder in the same run, alternating (model A, B, C, ..., A, B, C, ...;
bench/alternate.py), on one thread:

- training: optimizer steps per second on batches of 16 x 128 characters (the
  comparison presets' batch) cut from the folder's own sample tune, AdamW,
  forward + backward + update;
- generation: characters per second of one tune written from `<bos>` with the
  model's stateful step (`generate_tune`, top-p 0.95, at most 300 characters),
  the step the demo tab runs (it starts from `T:`; a character costs the same
  whatever came before it).

Each is printed as median (min-max) over the rounds, and as a ratio to the
first folder (the ratio of medians, min-max of the per-round ratios).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alternate import Comparison, alternate  # noqa: E402

from models.char_lm import BOS, CharLmForCausalLM, TuneSettings  # noqa: E402

BATCH, WINDOW = 16, 128


def training_round(model: CharLmForCausalLM, batch: torch.Tensor, steps: int):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def run() -> float:
        model.train()
        started = time.perf_counter()
        for _ in range(steps):
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return steps / (time.perf_counter() - started)

    return run


def generation_round(model: CharLmForCausalLM, tunes: int):
    settings = TuneSettings(strategy="top-p", top_p=0.95, max_characters=300)
    seeds = iter(range(10**6))

    def run() -> float:
        characters, started = 0, time.perf_counter()
        for _ in range(tunes):
            characters += len(model.generate_tune([BOS], settings=settings, seed=next(seeds))[0])
        return characters / (time.perf_counter() - started)

    return run


def sample_batch(folder: Path, model: CharLmForCausalLM) -> torch.Tensor:
    """BATCH x (WINDOW + 1) characters of the folder's own sample tune, repeated as needed."""
    ids = model.codec.encode((folder / "sample.abc").read_text(), tune=True)
    needed = BATCH * (WINDOW + 1)
    stream = (ids * (needed // len(ids) + 1))[:needed]
    return torch.tensor(stream).view(BATCH, WINDOW + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/bench_abc.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="save_pretrained folders of abc-composer presets")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per model (after one warm-up round)")
    parser.add_argument("--train-steps", type=int, default=5, help="optimizer steps per training round")
    parser.add_argument("--tunes", type=int, default=2, help="tunes per generation round")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    names, training, generation = [], {}, {}
    for folder in args.folders:
        model = CharLmForCausalLM.from_pretrained(folder)
        name = f"{folder.name} ({model.config.cell}, {model.num_parameters() / 1e6:.2f} M)"
        names.append(name)
        training[name] = training_round(model, sample_batch(folder, model), args.train_steps)
        # a copy of its own: the training rounds change `model`'s weights, generation writes with the shipped ones
        generation[name] = generation_round(CharLmForCausalLM.from_pretrained(folder).eval(), args.tunes)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread, {args.rounds} rounds "
          f"alternating; ratios to {names[0]}")
    report = {"machine": platform.platform(), "torch": torch.__version__, "threads": 1, "rounds": args.rounds}
    for what, contenders, unit in (("training", training, "steps/s of 16 x 128 characters"),
                                   ("generation", generation, "characters/s")):
        rates = alternate(contenders, args.rounds)
        print(f"\n{what} ({unit})")
        report[what] = {}
        for name in names:
            comparison = Comparison(rates[name], rates[names[0]])
            line = f"  {name:42s} {comparison.ours.format(1)}"
            if name != names[0]:
                line += f"; {comparison.ratio.format(2, 'x')} of {names[0].split(' ')[0]}"
            print(line)
            report[what][name] = comparison.as_dict()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

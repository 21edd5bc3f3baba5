"""Train a hub plugin's model with the shared Accelerate engine.

    python train.py --list
    python train.py mnist-cnn --preset best --data-dir ../shared/datasets/mnist
    python train.py mnist-cnn --evaluate pretrained/mnist-cnn --data-dir ../shared/datasets/mnist
    accelerate launch --multi_gpu --num_processes 2 train.py mnist-cnn ...   # several GPUs
    torchrun --nproc_per_node 2 train.py mnist-cnn ...                       # several CPU processes

Hyper-parameters live in the plugin's presets; the flags below override the
few that are commonly changed per run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plugins.errors import DataError
from plugins.cards import format_metric
from plugins.engine import TrainingInterrupted, TrainOptions, evaluate_saved, train
from plugins.registry import UnknownPluginError, get_plugin, plugin_names, unavailable_plugins


def list_plugins() -> str:
    lines = []
    for name in plugin_names():
        plugin = get_plugin(name)
        lines.append(f"{name}: {plugin.title}")
        for preset_name, preset in plugin.presets.items():
            default = " (default)" if preset_name == plugin.default_preset else ""
            lines.append(f"    --preset {preset_name}{default}: {preset.description}")
    for label, reason in unavailable_plugins().items():
        lines.append(f"{label}: UNAVAILABLE - {reason}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plugin", nargs="?", help="plugin name (see --list)")
    parser.add_argument("--list", action="store_true", help="list plugins and their presets, then exit")
    parser.add_argument("--preset", help="preset name (default: the plugin's default preset)")
    parser.add_argument("--data-dir", help="folder with the training data (see the plugin's docs)")
    parser.add_argument("--output-dir", help="where checkpoints, metrics.jsonl and model/ go "
                                             "(default: runs/<plugin>-<preset>)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="number of epochs (default: the preset's)")
    length.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    parser.add_argument("--batch-size", type=int, help="batch size per process")
    parser.add_argument("--lr", type=float, dest="learning_rate", help="peak learning rate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output-dir")
    parser.add_argument("--checkpoint-every", type=int, help="optimizer steps between checkpoints")
    parser.add_argument("--evaluate", metavar="MODEL_DIR",
                        help="do not train: report the test figures of a saved model (e.g. pretrained/mnist-cnn)")
    parser.add_argument("--synthetic", type=int, metavar="N",
                        help="smoke test: train on N made-up examples instead of the real data")
    args = parser.parse_args(argv)
    if not args.list and not args.plugin:
        parser.error(f"name a plugin to train (one of: {', '.join(plugin_names())}) or pass --list")
    for flag in ("epochs", "max_steps", "batch_size", "grad_accum", "checkpoint_every", "synthetic"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    if args.learning_rate is not None and not args.learning_rate > 0:
        parser.error(f"--lr must be positive, got {args.learning_rate}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print(list_plugins())
        return 0
    options = TrainOptions(**{key: value for key, value in vars(args).items() if key not in ("list", "evaluate")})
    try:
        if args.evaluate:
            report = evaluate_saved(options, Path(args.evaluate))
            for metric in report.get("metrics", []):
                print(f"{metric['name']}: {format_metric(metric)}")
            return 0
        model_dir = train(options)
    except TrainingInterrupted as stop:
        print(stop, file=sys.stderr)
        return 130
    except (UnknownPluginError, KeyError, FileExistsError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Saved the trained model in {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

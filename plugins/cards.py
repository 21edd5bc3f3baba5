"""Model cards written from a run's saved facts (`results.json`), never by hand.

A plugin's `final_report` returns `{"metrics": [...], ...}` where each metric
is `{"name", "type", "value", "error"?, "unit"?, "split"}`; from those the
card gets its Hub `model-index`, its results table and its text. The same
function serves `train.py` (after training) and `hub_upload.py` (before a
push, with the real repo id in the usage snippet).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch
import yaml

DEFAULT_HUB_OWNER = "dsl-hub"


def describe_hardware(accelerator=None) -> str:
    """A short, honest description of where a run or a measurement happened."""
    processes = accelerator.num_processes if accelerator is not None else 1
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return f"{processes} x {name}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu}, {os.cpu_count()} cores, {processes} process(es) x {torch.get_num_threads()} thread(s)"


def format_metric(metric: dict[str, Any]) -> str:
    """`99.48 ± 0.07 %` style text for a metric dict."""
    unit = metric.get("unit", "")
    digits = metric.get("digits", 2)
    text = f"{metric['value']:.{digits}f}"
    if metric.get("error") is not None:
        text += f" ± {metric['error']:.{digits}f}"
    return f"{text} {unit}".strip()


def repo_id_for(folder_name: str) -> str:
    """Hub repo of a shipped folder: `DSL_HUB_REPO_<FOLDER>` (dashes as underscores) or dsl-hub/<folder>."""
    variable = "DSL_HUB_REPO_" + folder_name.upper().replace("-", "_")
    return os.environ.get(variable) or f"{os.environ.get('DSL_HUB_OWNER', DEFAULT_HUB_OWNER)}/{folder_name}"


def card_metadata(plugin, results: dict[str, Any], repo_id: str) -> dict[str, Any]:
    metrics = results.get("test", {}).get("metrics", [])
    metadata = {
        "license": plugin.card_metadata.get("license", "mit"),
        "library_name": "transformers",
        **{key: value for key, value in plugin.card_metadata.items() if key != "license"},
    }
    metadata["tags"] = sorted({*metadata.get("tags", []), "deep-structured-learning-hub", plugin.name})
    if metrics:
        dataset = plugin.card_metadata.get("datasets", [plugin.name])[0]
        metadata["model-index"] = [{
            "name": repo_id.split("/")[-1],
            "results": [{
                "task": {"type": plugin.card_metadata.get("pipeline_tag", "other")},
                "dataset": {"name": dataset, "type": dataset, "split": metrics[0].get("split", "test")},
                "metrics": [
                    {"name": metric["name"], "type": metric["type"], "value": metric["value"],
                     **({"args": {"standard_error": metric["error"]}} if metric.get("error") is not None else {})}
                    for metric in metrics
                ],
            }],
        }]
    return metadata


def render_model_card(plugin, results: dict[str, Any], repo_id: str | None = None) -> str:
    repo_id = repo_id or repo_id_for(plugin.name)  # a run's model/ folder: name the plugin's repo
    metadata = card_metadata(plugin, results, repo_id)
    metrics = results.get("test", {}).get("metrics", [])
    lines = [
        "---",
        yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip(),
        "---",
        "",
        f"# {plugin.title}: `{results['preset']}`",
        "",
        plugin.description,
        "",
        f"Preset `{results['preset']}`: {results['preset_description']}",
        "",
    ]
    if metrics:
        lines += ["## Results", "", "| metric | split | value |", "|---|---|---|"]
        lines += [f"| {m['name']} | {m.get('split', 'test')} | {format_metric(m)} |" for m in metrics]
        if results.get("lecture_reference"):
            lines += ["", f"Lecture reference: {results['lecture_reference']}"]
        lines.append("")
    lines += [
        "## Usage",
        "",
        "```python",
        plugin.usage_snippet(repo_id).rstrip(),
        "```",
        "",
        plugin.model_card(results).strip(),
        "",
        "## Training",
        "",
        f"- Data: {results['data']}",
        f"- Steps: {results['steps']:,} optimizer steps ({results['epochs']} epochs), "
        f"batch size {results['recipe']['batch_size']} per process, {results['num_processes']} process(es), "
        f"mixed precision: {results['mixed_precision']}, seed {results['seed']}",
        f"- Optimizer: {results['recipe']['optimizer']} (learning rate {results['recipe']['learning_rate']}, "
        f"schedule {results['recipe']['schedule']})",
        f"- Hardware: {results['hardware']}; {results['train_seconds'] / 60:.1f} min in all, "
        f"{results['seconds_per_epoch']:.1f} s per epoch",
        f"- Parameters: {results['parameters']:,}",
        "",
        "Trained with the Deep Structured Learning Hub's Accelerate engine: "
        f"`python train.py {plugin.name} --preset {results['preset']}`.",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)


def write_model_card(plugin, folder: Path, results: dict[str, Any], repo_id: str | None = None) -> Path:
    path = Path(folder) / "README.md"
    path.write_text(render_model_card(plugin, results, repo_id))
    return path


def main(argv: list[str] | None = None) -> int:
    """Rewrite the card of a saved model folder from its results.json, for the repo it will be published
    as (`repo_id_for` the folder's name): what to run after copying a run's model/ into pretrained/."""
    import argparse
    import json

    from .registry import get_plugin

    parser = argparse.ArgumentParser(prog="python -m plugins.cards", description=main.__doc__)
    parser.add_argument("folders", nargs="+", type=Path, help="save_pretrained folders with a results.json")
    args = parser.parse_args(argv)
    for folder in args.folders:
        results_file = folder / "results.json"
        if not results_file.is_file():
            parser.error(f"{folder} has no results.json: is it a model folder written by train.py?")
        results = json.loads(results_file.read_text())
        print(write_model_card(get_plugin(results["plugin"]), folder, results, repo_id_for(folder.resolve().name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Model cards written from a run's saved facts (`results.json`), never by hand.

A plugin's `final_report` returns `{"metrics": [...], ...}` where each metric
is `{"name", "type", "value", "error"?, "unit"?, "split"}`; from those the
card gets its Hub `model-index`, its results table and its text. The same
function serves `train.py` (after training) and `hub_upload.py` (before a
push, with the real repo id in the usage snippet).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch
import yaml

DEFAULT_HUB_OWNER = "dsl-hub"

# Whose data the shipped models learned from, for the cards (the sources' own terms, stated once here).
MNIST_LICENCE = ("MNIST (Yann LeCun, Corinna Cortes, Christopher J. C. Burges), available under the Creative "
                 "Commons Attribution-Share Alike 3.0 licence")
FONT_LICENCES = {
    "kai": "AR PL UKai TW (Debian fonts-arphic-ukai; Arphic Public License)",
    "ming": "AR PL UMing TW (Debian fonts-arphic-uming; Arphic Public License)",
    "sans": "Noto Sans CJK TC (Debian fonts-noto-cjk; SIL Open Font License 1.1)",
    "hei": "WenQuanYi Zen Hei (Debian fonts-wqy-zenhei; GPL v2 with a font embedding exception)",
}


def glyph_licence(styles) -> str:
    """The licence sentence of a glyph data set rendered from the given style fonts."""
    fonts = "; ".join(FONT_LICENCES[style] for style in styles if style in FONT_LICENCES)
    return (f"glyphs rendered from {fonts}, for the 4,808 characters of Taiwan's Ministry of Education list of "
            "commonly used characters; the fonts' licences allow rendering their glyphs")


def processor_name() -> str:
    """The CPU's model name (Linux' /proc/cpuinfo), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_hardware(accelerator=None) -> str:
    """A short, honest description of where a run or a measurement happened."""
    processes = accelerator.num_processes if accelerator is not None else 1
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return f"{processes} x {name}"
    cpu = processor_name()
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


def is_hub_dataset_id(name: str) -> bool:
    """`owner/name`: the Hub links, filters and reads eval results only for data sets it hosts."""
    return name.count("/") == 1 and all(part.strip() for part in name.split("/"))


def card_metadata(plugin, results: dict[str, Any], repo_id: str) -> dict[str, Any]:
    """The card's YAML as the Hub's model-card spec reads it. `datasets` and `model-index` name only data
    sets hosted on the Hub (a glyph set rendered from Debian fonts or our MIDI corpus has no Hub id; their
    figures stay in the card's results table). Standard errors are not metric `args` (the spec keeps
    those for the metric's own arguments, e.g. an averaging mode); they are in the table."""
    facts = plugin.card_metadata_for(results)
    metrics = results.get("test", {}).get("metrics", [])
    hub_datasets = [name for name in facts.get("datasets", []) if is_hub_dataset_id(name)]
    metadata = {
        "license": facts.get("license", "mit"),
        "library_name": "transformers",
        **{key: value for key, value in facts.items() if key not in ("license", "datasets")},
    }
    if hub_datasets:
        metadata["datasets"] = hub_datasets
    metadata["tags"] = sorted({*metadata.get("tags", []), "deep-structured-learning-hub", plugin.name})
    if metrics and hub_datasets:
        metadata["model-index"] = [{
            "name": repo_id.split("/")[-1],
            "results": [{
                "task": {"type": facts.get("pipeline_tag", "other")},
                "dataset": {"name": hub_datasets[0], "type": hub_datasets[0], "split": metrics[0].get("split", "test")},
                "metrics": [{"name": metric["name"], "type": metric["type"], "value": metric["value"]}
                            for metric in metrics],
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
        *([f"- Data licence: {plugin.data_licence_for(results)}"] if plugin.data_licence_for(results) else []),
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


def write_comparison(plugin, folders, table: str) -> None:
    """Put a comparison table of several trained folders into each one's results.json and card (the tables of
    `python -m plugins.<plugin>.table ... --write-cards`)."""
    for folder in folders:
        results_file = Path(folder) / "results.json"
        results = json.loads(results_file.read_text())
        results["comparison"] = table
        results_file.write_text(json.dumps(results, indent=2) + "\n")
        write_model_card(plugin, folder, results, repo_id_for(Path(folder).resolve().name))


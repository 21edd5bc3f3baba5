"""The composer's model-card body, written from a run's saved results (never hand-typed figures)."""

from __future__ import annotations

from typing import Any


def _percent(pair, digits: int = 1) -> str:
    mean, error = pair
    text = f"{100 * mean:.{digits}f}"
    return f"{text} ± {100 * error:.{digits}f} %" if error is not None else f"{text} %"


def _plain(pair, digits: int = 1) -> str:
    mean, error = pair
    return f"{mean:.{digits}f} ± {error:.{digits}f}" if error is not None else f"{mean:.{digits}f}"


def card_body(results: dict[str, Any]) -> str:
    from . import DATA_LICENCE

    test = results.get("test", {})
    defaults = test.get("compose_defaults", {})
    metrics = {metric["type"]: metric for metric in test.get("metrics", [])}
    lines = ["## Evaluation", ""]
    if "perplexity" in metrics:
        lines += [
            f"Held-out validation pieces ({test.get('validation_tokens', 0):,} tokens in "
            f"{test.get('validation_chunks', 0):,} chunks; no validation piece was trained on): perplexity "
            f"{metrics['perplexity']['value']:.3f} ± {metrics['perplexity']['error']:.3f}, next-token accuracy "
            f"{metrics['accuracy']['value']:.2f} ± {metrics['accuracy']['error']:.2f} %. Errors are standard errors "
            "over the validation chunks.",
            "",
        ]
    if defaults:
        settings = ", ".join(f"{key}={value!r}" for key, value in defaults.items())
        lines += [
            "### Novelty, rhythm and loops at the default settings",
            "",
            f"{test.get('novelty_pieces', 0)} pieces composed with `model.compose`'s defaults ({settings}), each from "
            "a random primer (seeds 0, 1, ...). *Copy rate* is the share of a piece's n-token windows found verbatim "
            "in a training piece"
            + (" in any key (transposed by -5..+6 semitones)" if test.get("codec") == "performance" else "")
            + "; lower means more novel.",
            "",
            "| n | copy rate (mean ± standard error over pieces) |",
            "|---|---|",
        ]
        for n in (8, 16):
            metric = metrics.get(f"copy_rate_{n}")
            if metric:
                error = f" ± {metric['error']:.1f}" if metric.get("error") is not None else ""
                lines.append(f"| {n} tokens | {metric['value']:.1f}{error} % |")
        generated, reference = test.get("generated_shape", {}), test.get("validation_shape", {})
        if generated and reference:
            lines += [
                "",
                "Rhythm and repetition, measured on the decoded notes (bars of 4 beats) of the generated pieces and, "
                "for reference, of the openings of validation pieces of the same token length:",
                "",
                "| | generated | real (validation) |",
                "|---|---|---|",
                f"| different note durations per piece | {_plain(generated['distinct_durations'])} | "
                f"{_plain(reference['distinct_durations'])} |",
                f"| share of notes with the most common duration | {_percent(generated['main_duration_share'])} | "
                f"{_percent(reference['main_duration_share'])} |",
                f"| distinct bars / bars | {_percent(generated['distinct_bar_share'])} | "
                f"{_percent(reference['distinct_bar_share'])} |",
                f"| longest run of one repeated bar (max over pieces) | {generated['longest_loop_bars_max']} | "
                f"{reference['longest_loop_bars_max']} |",
                f"| bars per piece (mean) | {generated['bars_mean']:.1f} | {reference['bars_mean']:.1f} |",
            ]
        lines.append("")
    sample = test.get("sample") or {}
    if sample.get("wav"):
        lines += [
            "### Sample",
            "",
            f"[{sample['wav']}]({sample['wav']}) ({sample['seconds']} s"
            + (f", the first part of a {sample['piece_seconds']} s piece" if sample.get("piece_seconds", 0) >
               sample["seconds"] else "")
            + f"; rendered by {sample['engine']}) and its MIDI file [{sample['midi']}]({sample['midi']}): "
            "seed 0, default settings, random primer, the config's tempo and instrument.",
            "",
            f'<audio controls src="{sample["wav"]}"></audio>',
            "",
        ]
    codec = test.get("codec")
    lines += ["## Tokens", ""]
    if codec == "performance":
        lines += [
            "The *performance* codec (`midi_codec.py`, shipped beside the model): notes on a grid of 12 steps per "
            "quarter note; `shift_<s>` advances the clock, then `note_<pitch>` `dur_<steps>` per note, lowest pitch "
            "first. Tracks and channels are merged, drums left out; time is counted in beats, so tempo changes do not "
            "disturb the rhythm. The vocabulary is in `config.json`.",
        ]
    elif codec == "lecture":
        lines += [
            "The lecture's *chord* codec (`midi_codec.py`): one token per distinct note onset, the sorted pitches "
            "starting there; rhythm is dropped and decoding writes each chord for 120 ticks (a sixteenth note), as "
            "the lecture's midi_phraser did. The chord vocabulary is in `config.json`.",
        ]
    lines += [
        "",
        "`model.compose(num_tokens=..., strategy=..., temperature=..., top_k=..., top_p=..., num_beams=..., "
        "primer=..., seed=..., tempo_bpm=..., program=...)` returns a `mido.MidiFile` (`ComposeSettings` holds "
        "these settings and their defaults); `primer` may be a MIDI file (path or bytes) to continue. Strategies: "
        "`greedy`, `sample` (temperature / top-k / top-p), `adaptive` (the lecture's adaptive temperature) and "
        "`beam`. The LSTM state is carried, so each new token costs one step: `forward` on one token. The code in "
        "this repository is plain PyTorch and transformers: it compiles nothing and loads no native code. (The "
        "Deep Structured Learning Hub's demo serves the same weights with a faster CPU step of its own, which "
        "composes the same pieces.)",
        "",
        "## Data and licence",
        "",
    ]
    if test.get("corpus_statistics"):
        lines += ["Corpus statistics printed by the run:", "", "```", test["corpus_statistics"], "```", ""]
    if not str(results.get("data", "")).startswith("SYNTHETIC"):
        lines += [DATA_LICENCE, ""]
    return "\n".join(lines)

"""The ABC composer's model-card body, written from a run's saved results."""

from __future__ import annotations

from typing import Any


def card_body(results: dict[str, Any]) -> str:
    from . import DATA_LICENCE, EVAL_WINDOW

    test = results.get("test", {})
    lines = ["## Evaluation", ""]
    validation, lab = test.get("validation"), test.get("validation_lab_tunes")
    if validation:
        lines += [
            f"Held-out validation tunes (split by tune; none was trained on), read in {EVAL_WINDOW}-character chunks "
            f"from a fresh state: **{validation['bpc']:.3f} ± {validation['error']:.3f} bits per character** over "
            f"{validation['characters']:,} characters"
            + (f"; on the MIT lab's own validation tunes {lab['bpc']:.3f} ± {lab['error']:.3f}" if lab else "")
            + ". Errors are standard errors over the chunks.",
            "",
            "By position in the chunk (how much context the model had): "
            + ", ".join(f"characters {band}: {value:.3f} ± {error:.3f}"
                        for band, (value, error) in validation["by_position"].items()) + ".",
            "",
        ]
    generated = test.get("generated")
    if generated:
        settings = ", ".join(f"{key}={value!r}" for key, value in generated["settings"].items())
        copy = generated.get("copy_share_mean")
        lines += [
            "### Generated tunes",
            "",
            f"{generated['tunes']} tunes that begin with `{generated.get('start', 'T:')}` (as in the demo and the "
            f"usage snippet), written with `TuneSettings()` ({settings}), "
            f"seeds 0, 16, 32, 48 for batches of 16: **{generated['valid']} of {generated['tunes']} parse with "
            "music21 and play** (their notes write a MIDI file); "
            f"{generated['ended_by_the_model']} were ended by the model itself, the others stopped at "
            f"{generated['settings']['max_characters']} characters; {generated['mean_characters']:.0f} characters "
            "on average."
            + (f" Of a valid tune's 8-note n-grams (notes as written: letter, accidental, octave, length), "
               f"**{100 * copy:.1f} %** occur in a training tune (mean over tunes"
               + (f", ± {100 * generated['copy_share_error']:.1f}" if generated.get('copy_share_error') else "")
               + f"; the largest {100 * generated['max_copy_share']:.0f} %, "
               f"{generated['tunes_over_half_copied']} tune(s) over half); held-out real tunes score "
               f"{100 * generated['validation_copy_share'][0]:.1f} % by the same measure."
               if copy is not None else ""),
            "",
            f"Generation on the training machine's CPU: {generated['characters_per_second_single']:.0f} characters/s "
            f"for one tune, {generated['characters_per_second_batch_16']:.0f} characters/s for 16 at once.",
            "",
        ]
        if generated.get("invalid_reasons"):
            lines += ["Why the others failed: " + "; ".join(f"*{reason}*" for reason in generated["invalid_reasons"])
                      + ".", ""]
    comparison = results.get("comparison")
    if comparison:
        lines += [
            "### Beside the other presets",
            "",
            "The same measures for every model of this plugin shipped with it (all trained and measured on the "
            "machine named under Training; `python -m plugins.abc_composer.table` writes this table):",
            "",
            comparison,
            "",
        ]
    sample = test.get("sample") or {}
    if sample.get("wav"):
        lines += [
            "### Sample",
            "",
            f"[{sample['abc']}]({sample['abc']}) (the first valid tune above), its MIDI file "
            f"[{sample['midi']}]({sample['midi']}) and [{sample['wav']}]({sample['wav']}) ({sample['seconds']} s; "
            f"{sample['engine']}).",
            "",
            f'<audio controls src="{sample["wav"]}"></audio>',
            "",
        ]
    lines += [
        "## Text and generation",
        "",
        "One token per character (the vocabulary is in `config.json`), plus `<bos>` before and `<eos>` after each "
        "tune. What the model saw of a tune: the first `T:` title and the `R: M: L: Q: P: K:` fields, then the music; "
        "`X:` numbers, transcribers' notes, sources, `%` comments and quoted strings (chord names, fingerings) were "
        "dropped. `model.write_tune(start, strategy=..., temperature=..., top_k=..., top_p=..., max_characters=..., "
        "seed=...)` continues `start` (e.g. `\"T:\"`, or a tune's header and first bars) until the model writes "
        "`<eos>`; strategies `greedy`, `temperature`, `top-k` and `top-p` use transformers' logits warpers "
        "(`TuneSettings` holds the defaults). `forward(input_ids, state=...)` carries the recurrent state or the "
        "attention cache, so each new character is one step. music21 turns the text into notes and MIDI.",
        "",
        "## Data and licence",
        "",
    ]
    if test.get("corpus_statistics"):
        lines += ["Corpus statistics printed by the run:", "", "```", test["corpus_statistics"], "```", ""]
    if not str(results.get("data", "")).startswith("SYNTHETIC"):
        lines += [DATA_LICENCE, ""]
    return "\n".join(lines)

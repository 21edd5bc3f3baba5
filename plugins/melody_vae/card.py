"""The melody VAE's model-card body, written from a run's saved results."""

from __future__ import annotations

from typing import Any


def pair(values, digits: int = 1, scale: float = 100.0, unit: str = " %") -> str:
    """'81.3 ± 0.9 %' from a (mean, standard error) pair."""
    mean, error = values
    text = f"{scale * mean:.{digits}f}"
    return text + (f" ± {scale * error:.{digits}f}" if error is not None else "") + unit


def card_body(results: dict[str, Any]) -> str:
    from .evaluation import PAIRS, PATH_POINTS, SAMPLES
    from .music import MAX_LEAP, MAX_RANGE, MAX_REPEATS, MIN_SCALE_SHARE

    test = results.get("test", {})
    lines = ["## Evaluation", ""]
    rebuilt = test.get("reconstruction")
    if rebuilt:
        lines += [
            f"On {rebuilt['melodies']:,} held-out two-bar melodies (test pieces, none trained on; split by piece): "
            f"each melody is encoded to the mean of its code and decoded greedily, feeding back its own tokens; "
            f"**{pair(rebuilt['greedy_accuracy'])} of the 32 sixteenth-note steps come back right** "
            f"({pair(rebuilt['teacher_forced_accuracy'])} with the true previous token fed in)."
            + (f" The code carries **{rebuilt['kl'][0]:.2f} ± {rebuilt['kl'][1]:.2f} nats of KL per melody** "
               "(KL(q(z|x) || N(0, I)), the closed form)." if rebuilt.get("kl") else
               " (A plain autoencoder: its code is a point, not a distribution, so there is no KL.)"),
            "",
        ]
    samples, paths, corpus = test.get("prior_samples"), test.get("interpolation", {}), test.get("corpus_musical")
    if samples and paths:
        slerp, lerp = paths["slerp"], paths["lerp"]
        lines += [
            "### Is it a melody?",
            "",
            f"A melody counts as musical when it has at least 3 notes and 3 pitches, strikes no pitch more than "
            f"{MAX_REPEATS} times in a row, has no silent bar, at least "
            f"{MIN_SCALE_SHARE:.0%} of its notes in one major or harmonic-minor scale, a range of at most "
            f"{MAX_RANGE} semitones and no leap over {MAX_LEAP}"
            + (f"; {pair(corpus['musical'])} of the held-out corpus melodies pass" if corpus else "")
            + " (the checks are explained in the plugin's `music.py`).",
            "",
            f"- **Prior samples**: {pair(samples['musical'])} of {samples['count']} codes drawn from N(0, I) decode "
            f"(greedily) to a musical melody ({samples['distinct']} distinct melodies).",
            f"- **Interpolation midpoints**: between {slerp['pairs']} pairs of held-out melodies (the same pairs for "
            f"every model), {PATH_POINTS} codes along the path, both ends included: the middle one is musical in "
            f"**{pair(slerp['midpoint_musical'])}** of the pairs along the great circle (slerp), "
            f"{pair(lerp['midpoint_musical'])} along the straight line (lerp).",
            f"- **Smoothness**: from one point of the path to the next, {pair(slerp['mean_change'])} of the 32 steps "
            f"change on average (slerp); the largest single jump changes {pair(slerp['largest_change'])}.",
            "",
            "Errors are standard errors (binomial for shares; over melodies or pairs otherwise). Greedy decoding "
            f"throughout ({SAMPLES} samples, {PAIRS} pairs), so the figures describe the codes, not the luck of a draw.",
            "",
        ]
    comparison = results.get("comparison")
    if comparison:
        lines += ["### Beside the other presets", "",
                  "The same measures for each model of this plugin (`python -m plugins.melody_vae.table` writes "
                  "this table):", "", comparison, ""]
    sample = test.get("sample") or {}
    if sample.get("wav"):
        lines += [
            "### Sample",
            "",
            f"The path from *{sample['from']}* to *{sample['to']}* in {sample['points']} steps (slerp), played as "
            f"one piece: [{sample['midi']}]({sample['midi']}), [{sample['wav']}]({sample['wav']}) "
            f"({sample['seconds']} s; {sample['engine']}).",
            "",
            f'<audio controls src="{sample["wav"]}"></audio>',
            "",
            f"![piano roll of the path, first melody blue, last orange]({sample['png']})",
            "",
        ]
    lines += [
        "## Melodies and the model",
        "",
        "A melody is 32 sixteenth-note steps (two bars of 4/4), one token per step as in MusicVAE: `rest`, `hold` "
        "(the note before goes on) or a note-on for one pitch of C3-C6; the codec is `melody_codec.py`, its settings "
        "are in `config.json`. From several voices the codec keeps the top line. The encoder (an LSTM read both "
        "ways) gives the mean and log-variance of a Gaussian code z; the decoder (an LSTM started from z and fed z "
        "at every step) writes the melody back one token per step. The loss is the reconstruction's "
        "negative log-likelihood plus beta times the KL beyond the free bits, with the KL weight ramped up from "
        "0 (KL annealing). `model.encode(melodies)` gives codes, `model.decode(codes, temperature=..., seed=...)` "
        "melodies, `model.interpolate(first, last, num_steps=..., method='slerp' | 'lerp')` the path between two, "
        "`model.sample(n, temperature=..., seed=...)` new ones; `model.codec.midi_from_melodies(...)` writes a "
        "mido.MidiFile, `model.codec.notes_from_midi(mido.MidiFile(path))` and `melody_from_notes` read one.",
        "",
        "## Data",
        "",
    ]
    if test.get("corpus_statistics"):
        lines += ["Corpus statistics printed by the run:", "", "```", test["corpus_statistics"], "```", ""]
    return "\n".join(lines)

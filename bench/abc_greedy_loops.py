"""How often greedy decoding loops in the ABC composer, with and without transformers' remedies.

    python bench/abc_greedy_loops.py [--json bench/results/abc-greedy-loops.json]   # about 40 min on one thread

Every shipped model (pretrained/abc-composer*) writes greedily, at most 1,500 characters, from "T:" and from two
validation openings of its corpus, under each remedy setting (repetition penalty, no-repeat n-gram size in
characters). A tune "loops" as the tab's notice says (plugins.abc_composer.composing.loop_warning's note measure:
one phrase 10 or more times in a row over 16 beats or more); "ends" means the model wrote <eos> itself. The tab's
defaults (DEFAULT_REMEDIES) are the setting with no loop and the most tunes ended.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.abc_composer.composing import LOOP_BEATS, LOOP_PLAYS, compose_tune, request_settings  # noqa: E402
from plugins.abc_composer.novelty import load_corpus  # noqa: E402
from plugins.registry import get_plugin  # noqa: E402

SETTINGS = [(1.0, 0), (1.2, 0), (1.0, 16), (1.0, 24), (1.0, 32), (1.1, 16), (1.1, 24), (1.2, 16), (1.2, 24)]
OPENINGS = ("The Irish Hautboy.", "The Campbell's are coming.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the counts here")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    plugin = get_plugin("abc-composer")
    folders = sorted(Path("pretrained").glob("abc-composer*"))
    openings = dict(load_corpus(folders[0]).openings)
    starts = ["T:", *(openings[name] for name in OPENINGS)]
    counts = {setting: {"tunes": 0, "loop": 0, "ended": 0} for setting in SETTINGS}
    for folder in folders:
        model = plugin.load_for_demo(folder)
        for penalty, ngram in SETTINGS:
            settings = request_settings(strategy="greedy", max_characters=1500, repetition_penalty=penalty,
                                        no_repeat_ngram_size=ngram)
            for start in starts:
                tune = compose_tune(model, None, settings, start=start, seed=0)
                loop = tune.loop
                count = counts[(penalty, ngram)]
                count["tunes"] += 1
                count["ended"] += tune.ended
                count["loop"] += bool(loop and loop.plays >= LOOP_PLAYS and loop.beats >= LOOP_BEATS)
            print(f"{folder.name} penalty {penalty:g}, no-repeat {ngram}: {counts[(penalty, ngram)]}", flush=True)
    print("\n| repetition penalty | no-repeat n-gram (characters) | tunes | loop | end by themselves |")
    print("|---|---|---|---|---|")
    for (penalty, ngram), count in counts.items():
        print(f"| {penalty:g} | {ngram or 'off'} | {count['tunes']} | {count['loop']} | {count['ended']} |")
    if arguments.json:
        arguments.json.write_text(json.dumps([{"repetition_penalty": p, "no_repeat_ngram_size": n, **c}
                                              for (p, n), c in counts.items()], indent=1) + "\n")


if __name__ == "__main__":
    main()

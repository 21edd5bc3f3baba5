"""Measure a trained abc-composer folder's report again and rewrite its results.json and card (plugins/remeasure.py).

    python -m plugins.abc_composer.remeasure pretrained/abc-composer --preset best --data-dir ../shared/datasets/abc
"""

from ..remeasure import main

if __name__ == "__main__":
    raise SystemExit(main(plugin_name="abc-composer"))

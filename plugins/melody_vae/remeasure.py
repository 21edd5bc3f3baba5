"""Measure a trained melody-vae folder's report again and rewrite its results.json and card (plugins/remeasure.py).

    python -m plugins.melody_vae.remeasure pretrained/melody-vae --preset best --data-dir ../shared/datasets/midi
"""

from ..remeasure import main

if __name__ == "__main__":
    raise SystemExit(main(plugin_name="melody-vae"))

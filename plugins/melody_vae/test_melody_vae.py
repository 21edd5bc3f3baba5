"""`melody-vae` trains with the engine on its synthetic data, saves a folder that loads, and classifies."""

import numpy as np

from plugins.engine import TrainOptions, train
from plugins.registry import get_plugin


def test_melody_vae_trains_saves_and_classifies(tmp_path):
    from plugins.melody_vae.demo import classify

    model_dir = train(TrainOptions("melody-vae", synthetic=64, max_steps=5, output_dir=str(tmp_path / "run")))
    model = get_plugin("melody-vae").load_for_demo(model_dir)
    picture = np.full((56, 56), 255, dtype=np.uint8)
    picture[10:46, 26:30] = 0  # a dark vertical bar on white paper
    probabilities = classify(model, picture)
    assert set(probabilities) == set(model.config.id2label.values())
    assert abs(sum(probabilities.values()) - 1.0) < 1e-5

"""The quality figures: the Fréchet distance's closed form, and diversity figures that catch collapse and noise."""

import numpy as np
import pytest

from plugins.font_gan import quality


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    first = rng.normal(0.0, 1.0, (20000, 3))
    second = rng.normal(0.0, 1.0, (20000, 3)) * [1.0, 2.0, 3.0] + [1.0, 0.0, 0.0]
    # ||mu1 - mu2||^2 + sum (s1 - s2)^2 for diagonal covariances: 1 + (0 + 1 + 4)
    assert quality.frechet_distance(first, second) == pytest.approx(6.0, rel=0.05)
    assert quality.frechet_distance(first, first) == pytest.approx(0.0, abs=1e-6)
    assert quality.frechet_distance(first, rng.normal(0.0, 1.0, (20000, 3))) < 0.01


def test_coverage_falls_for_collapse_and_for_noise():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(600, 8))
    assert quality.coverage(real, rng.normal(size=(600, 8))) > 0.9
    assert quality.coverage(real, rng.normal(size=(600, 8)) * 0.05) < 0.2  # collapsed onto the centre
    assert quality.coverage(real, rng.normal(size=(600, 8)) * 3.0) < 0.2  # spread far off the real ones


def test_pairwise_distance_sees_collapse():
    rng = np.random.default_rng(2)
    varied, collapsed = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) * 0.1
    assert quality.mean_pairwise_distance(collapsed) < 0.2 * quality.mean_pairwise_distance(varied)

"""How good a generator is, by numbers: a Fréchet distance and two diversity figures.

- Fréchet distance (the idea of FID, with a glyph network instead of
  Inception): fit a Gaussian to the features of real glyphs and one to the
  features of generated glyphs, and measure how far apart they are. Features
  are the last convolution block of a classifier trained on real renders
  (the font-style CNN for glyphs, the MNIST CNN for digits), averaged over
  positions. Lower is better; a generator that matches the data has ~0.
- Diversity, so mode collapse shows: the mean pairwise feature distance of
  generated glyphs divided by that of real glyphs (1 = as varied as the
  data, << 1 = collapsed), and the share of distinct nearest real glyphs
  (each generated glyph's nearest training glyph in the same feature space;
  a collapsed generator keeps landing on the same few). The same share with
  neighbours found in pixels is kept in the results too, but it flatters
  noisy generators: noise decorrelates an image from every real glyph
  alike, so its "nearest" one is close to random; noise also inflates the
  pairwise distance. Coverage is robust to both: the share of real glyphs
  that have a generated glyph within their 5-nearest-real-neighbour ball
  (Naeem et al. 2020, "Reliable fidelity and diversity metrics"); collapsed
  and noisy generators both cover little.

    python -m plugins.font_gan.quality runs/font-gan-best/model [--classifier pretrained/font-style-cnn]

recomputes the figures of a trained generator folder, updating its
results.json and model card.
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLES = 4096  # generated glyphs for the Fréchet distance (the bias of FD depends on it: keep it fixed)
DIVERSITY_SAMPLES = 1000
COVERAGE_MAX_REAL = 10_000  # real images the coverage figure uses at most (its cost grows with the square)
FEATURE_BATCH = 512


@torch.no_grad()
def classifier_features(classifier, images: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) images in [-1, 1] (ink +1) -> (N, channels) pooled features of the last convolution block."""
    classifier.eval()
    features = []
    for start in range(0, len(images), FEATURE_BATCH):
        pixels = (images[start:start + FEATURE_BATCH].float() + 1.0) / 2.0  # the classifier reads [0, 1], ink = 1
        maps = classifier(pixel_values=pixels, output_hidden_states=True).hidden_states[-1]
        features.append(maps.float().mean(dim=(2, 3)).numpy())
    return np.concatenate(features).astype(np.float64)


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between Gaussians fitted to two (N, D) feature sets."""
    mean_1, mean_2 = first.mean(axis=0), second.mean(axis=0)
    covariance_1, covariance_2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    # Tr((S1 S2)^(1/2)) = sum of sqrt(eigenvalues of S1^(1/2) S2 S1^(1/2)), a symmetric PSD matrix.
    values, vectors = np.linalg.eigh(covariance_1)
    root_1 = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root_1 @ covariance_2 @ root_1
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum()
    distance = ((mean_1 - mean_2) ** 2).sum() + np.trace(covariance_1) + np.trace(covariance_2) - 2.0 * trace_root
    return float(max(distance, 0.0))


def mean_pairwise_distance(features: np.ndarray) -> float:
    squared = (features ** 2).sum(axis=1)
    distances = np.sqrt(np.clip(squared[:, None] + squared[None, :] - 2.0 * features @ features.T, 0.0, None))
    count = len(features)
    return float(distances.sum() / (count * (count - 1)))


def nearest_real(generated: torch.Tensor, real: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Index of each generated image's nearest real image, and the RMS pixel distance (in [-1, 1]) to it.

    "Nearest" is the highest correlation of the ink images (each centred on its mean ink and scaled to unit
    length), not the smallest Euclidean distance: in pixels, a glyph of a few strokes (一, 丁) is the closest
    image to anything whose strokes match nothing exactly, so plain distance sends most generated glyphs to
    the same handful of sparse characters and says nothing about copying.
    """
    flat_real = ((real.reshape(len(real), -1).float() + 1.0) / 2.0)
    centred_real = flat_real - flat_real.mean(dim=1, keepdim=True)
    centred_real = centred_real / centred_real.norm(dim=1, keepdim=True).clamp_min(1e-6)
    indices, distances = [], []
    for start in range(0, len(generated), FEATURE_BATCH):
        flat = (generated[start:start + FEATURE_BATCH].reshape(-1, flat_real.shape[1]).float() + 1.0) / 2.0
        centred = flat - flat.mean(dim=1, keepdim=True)
        centred = centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-6)
        best = (centred @ centred_real.T).argmax(dim=1)
        indices.append(best.numpy())
        distances.append((2.0 * (flat - flat_real[best])).pow(2).mean(dim=1).sqrt().numpy())
    return np.concatenate(indices), np.concatenate(distances)


def coverage(real_features: np.ndarray, generated_features: np.ndarray, neighbours: int = 5,
             max_real: int = COVERAGE_MAX_REAL) -> float:
    """Share of real glyphs with a generated one inside their neighbourhood (Naeem et al., 2020).

    A real glyph's neighbourhood is the ball reaching its `neighbours`-th nearest real glyph. A collapsed
    generator covers few real glyphs, and so does a noisy one (its glyphs lie off the real ones), which
    the two figures above cannot tell apart from variety. Large data sets (MNIST's 55,000) are measured on
    a fixed random subset of `max_real`: the real-to-real distances grow with its square.
    """
    def squared_distances(first, second):
        return np.clip((first ** 2).sum(axis=1)[:, None] + (second ** 2).sum(axis=1)[None] - 2.0 * first @ second.T,
                       0.0, None)

    if len(real_features) > max_real:
        real_features = real_features[np.random.default_rng(0).choice(len(real_features), max_real, replace=False)]
    radii = np.concatenate([  # column 0 of each sorted row is the glyph itself
        np.partition(squared_distances(real_features[start:start + FEATURE_BATCH], real_features), neighbours,
                     axis=1)[:, neighbours]
        for start in range(0, len(real_features), FEATURE_BATCH)])
    closest = np.full(len(real_features), np.inf)
    for start in range(0, len(generated_features), FEATURE_BATCH):
        closest = np.minimum(closest, squared_distances(real_features, generated_features[start:start + FEATURE_BATCH])
                             .min(axis=1))
    return float((closest <= radii).mean())


def nearest_in_features(generated_features: np.ndarray, real_features: np.ndarray) -> np.ndarray:
    """Index of each generated glyph's nearest real glyph in the classifier's feature space."""
    squared = ((generated_features ** 2).sum(axis=1)[:, None] + (real_features ** 2).sum(axis=1)[None]
               - 2.0 * generated_features @ real_features.T)
    return squared.argmin(axis=1)


@torch.no_grad()
def generate_images(generator, count: int, seed: int) -> torch.Tensor:
    """`count` images in [-1, 1] (ink +1) from noise drawn with its own seeded torch.Generator."""
    was_training = generator.training
    generator.eval()
    parameter = next(generator.parameters())
    latents = torch.randn(count, generator.config.latent_size, generator=torch.Generator().manual_seed(seed))
    images = torch.cat([generator(latents[start:start + FEATURE_BATCH].to(parameter.dtype)).images.float()
                        for start in range(0, count, FEATURE_BATCH)])
    generator.train(was_training)
    return images


def measure(generator, classifier, real: torch.Tensor, seed: int = 1234, samples: int = SAMPLES,
            heldout: torch.Tensor | None = None) -> dict:
    """The quality figures of `generator` against `real` images (N, 1, H, W) in [-1, 1].

    With `heldout` real images (not trained on), their own distance to `real` is given for scale: the
    figure a perfect generator would approach with that many samples.
    """
    generated = generate_images(generator, samples, seed)
    real_features = classifier_features(classifier, real)
    generated_features = classifier_features(classifier, generated)
    distance = frechet_distance(real_features, generated_features)
    floor = None
    if heldout is not None and len(heldout) > 1:
        floor = frechet_distance(real_features, classifier_features(classifier, heldout))

    rng = np.random.default_rng(seed)
    shown = min(DIVERSITY_SAMPLES, len(real), samples)
    real_pick = rng.choice(len(real), shown, replace=False)
    spread_real = mean_pairwise_distance(real_features[real_pick])
    spread_generated = mean_pairwise_distance(generated_features[:shown])
    nearest_features = nearest_in_features(generated_features[:shown], real_features)
    nearest, pixel_distance = nearest_real(generated[:shown], real)
    return {
        "frechet_distance": distance,
        "frechet_distance_heldout_real": floor,
        "heldout_real": 0 if heldout is None else len(heldout),
        "pairwise_distance_ratio": spread_generated / spread_real if spread_real > 0 else 0.0,
        "coverage": coverage(real_features, generated_features),
        "distinct_nearest_share": len(np.unique(nearest_features)) / shown,
        "distinct_nearest_share_pixels": len(np.unique(nearest)) / shown,
        "nearest_real_rms": float(pixel_distance.mean()),
        "generated": samples,
        "real": len(real),
        "diversity_samples": shown,
    }


def metrics_for_card(figures: dict, classifier_name: str) -> list[dict]:
    return [
        {"name": f"Fréchet distance ({classifier_name} features)", "type": "frechet_distance",
         "value": round(figures["frechet_distance"], 4), "digits": 3, "split": "train"},
        {"name": "Diversity: pairwise feature distance, generated / real", "type": "diversity",
         "value": round(figures["pairwise_distance_ratio"], 4), "digits": 3, "split": "train"},
        {"name": "Coverage of the real glyphs (features)", "type": "coverage",
         "value": round(100 * figures["coverage"], 2), "unit": "%", "digits": 1, "split": "train"},
        {"name": "Diversity: distinct nearest real glyphs (features)", "type": "diversity",
         "value": round(100 * figures["distinct_nearest_share"], 2), "unit": "%", "digits": 1, "split": "train"},
        {"name": "RMS pixel distance to the nearest real glyph", "type": "distance",
         "value": round(figures["nearest_real_rms"], 4), "digits": 3, "split": "train"},
    ]


if __name__ == "__main__":
    import sys

    from plugins.font_gan import quality_main

    sys.exit(quality_main())

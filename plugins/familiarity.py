"""An honest "not sure": how far a picture is from everything a classifier learnt from.

A classifier's softmax always shares out 100 % among its classes, so a dot, a scribble or a Chinese character
still gets a confident digit (a single dot was "0" at 93 %). The answer's confidence cannot say "this is
not a digit"; we measured it (`python -m plugins.familiarity_fit`): at a 1 % false alarm rate on real MNIST
digits, the best CNN's top probability flags 24 % of dots and 71 % of scribbles, its energy score similar.

So the hub asks a second question: does the picture look like the training data at all?

- **Ink statistics first.** A picture whose ink covers only a small spot of it (less than `MIN_EXTENT` of its
  shorter side) is a dot, a speck or a digit too small to read: the MNIST preparation would blow it up to a
  blob that looks like a bold 0.
- **A distance in the classifier's feature space.** The features are the input of the network's last layer
  (for the best digit CNN: its 2,048 convolutional features). Each class is a Gaussian with one covariance
  shared by all classes, fitted on the training pictures, and the distance of a picture is its Mahalanobis
  distance to the nearest class mean (Lee et al., "A simple unified framework for detecting
  out-of-distribution samples and adversarial attacks", NeurIPS 2018). The covariance keeps its
  `DIRECTIONS` leading principal directions exactly and sums up the rest by their mean variance (probabilistic
  PCA, Tipping and Bishop 1999), so the statistics are half a megabyte and junk that moves the features in
  directions real digits never use still counts (a 64-direction distance without that remainder missed
  40 % of scribbles).
- **The limit is calibrated, not chosen:** the `QUANTILE` percentile of the distances of held-out pictures
  of the training data (MNIST's 5,000 validation digits, never trained on). About 1 % of real digits are
  therefore "not sure" by construction; `python -m plugins.familiarity_fit` measures the share on the
  10,000 test digits, on mouse drawings and on photos, and the share of junk caught.

Whose features: every digit tab (CNN and MLP, each of their models) measures with the hub's best digit CNN
(`mnist-cnn`). "Does this look like an MNIST digit" is a property of the picture, not of the model that
answers, and the best CNN's features are the only ones of the four digit models that keep junk apart
(at 1 % false alarms the lecture CNN's and both MLPs' features caught none to a third of the scribbles).
The font-style tab measures with its own network against the rendered glyphs it learnt from.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

logger = logging.getLogger("dsl_hub")

DIRECTIONS = 64
QUANTILE = 99.0
MIN_EXTENT = 0.15
STATISTICS_FILE = "familiarity.safetensors"


def last_layer(model) -> torch.nn.Linear:
    """The linear layer that gives the logits (the hub's CNN and MLP classifiers end in one)."""
    classifier = model.classifier
    return classifier[-1] if isinstance(classifier, torch.nn.Sequential) else classifier


@torch.no_grad()
def penultimate_features(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """(batch, 1, H, W) pictures -> (batch, features): what the last layer of `model` reads."""
    seen = {}
    hook = last_layer(model).register_forward_pre_hook(lambda module, inputs: seen.setdefault("features", inputs[0]))
    try:
        model(pixel_values=pixel_values)
    finally:
        hook.remove()
    return seen["features"].double()


@dataclass
class FeatureDensity:
    """Class means and a shared covariance (leading directions + one remainder variance) of training features."""

    means: torch.Tensor  # (classes, features)
    basis: torch.Tensor  # (features, directions), orthonormal columns
    variances: torch.Tensor  # (directions,)
    remainder_variance: float  # mean variance of all the other directions
    threshold: float = float("inf")  # distances above this are "not sure"

    @classmethod
    def fit(cls, batches, num_classes: int, directions: int = DIRECTIONS) -> "FeatureDensity":
        """`batches` is a function returning an iterable of (features, labels) batches; it is read twice."""
        sums, counts = None, torch.zeros(num_classes, dtype=torch.float64)
        for features, labels in batches():
            sums = torch.zeros(num_classes, features.shape[1], dtype=torch.float64) if sums is None else sums
            sums.index_add_(0, labels, features)
            counts += torch.bincount(labels, minlength=num_classes).double()
        if (counts == 0).any():
            raise ValueError(f"classes without training pictures: {torch.nonzero(counts == 0).flatten().tolist()}")
        means = sums / counts[:, None]
        scatter = torch.zeros(means.shape[1], means.shape[1], dtype=torch.float64)
        for features, labels in batches():
            centred = features - means[labels]
            scatter += centred.T @ centred
        eigenvalues, eigenvectors = torch.linalg.eigh(scatter / counts.sum())  # ascending
        directions = min(directions, len(eigenvalues) - 1)
        floor = float(eigenvalues[-1]) * 1e-9
        return cls(means=means, basis=eigenvectors[:, -directions:].contiguous(),
                   variances=eigenvalues[-directions:].clamp_min(floor),
                   remainder_variance=max(float(eigenvalues[:-directions].clamp_min(0).mean()), floor))

    def distances(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, features) -> (batch,) squared Mahalanobis distance to the nearest class."""
        features = features.double()
        projected, projected_means = features @ self.basis, self.means @ self.basis  # (batch, k), (classes, k)
        inside = ((projected[:, None] - projected_means[None]) ** 2 / self.variances).sum(-1)  # (batch, classes)
        whole = torch.cdist(features, self.means) ** 2
        outside = (whole - ((projected[:, None] - projected_means[None]) ** 2).sum(-1)).clamp_min(0)
        return (inside + outside / self.remainder_variance).min(1).values

    def calibrate(self, held_out: torch.Tensor, quantile: float = QUANTILE) -> None:
        """Set the limit at the `quantile` percentile of held-out training-data distances."""
        self.threshold = float(np.percentile(self.distances(held_out).numpy(), quantile))

    def save(self, path: Path, **facts: str) -> None:
        save_file({"means": self.means.float(), "basis": self.basis.float(), "variances": self.variances.float(),
                   "remainder_variance": torch.tensor([self.remainder_variance]),
                   "threshold": torch.tensor([self.threshold])},
                  str(path), metadata={key: str(value) for key, value in facts.items()})

    @classmethod
    def load(cls, path: Path) -> "FeatureDensity":
        tensors = load_file(str(path))
        return cls(means=tensors["means"].double(), basis=tensors["basis"].double(),
                   variances=tensors["variances"].double(), remainder_variance=float(tensors["remainder_variance"]),
                   threshold=float(tensors["threshold"]))


def ink_extent(ink: np.ndarray) -> float:
    """The longer side of the ink's box as a share of the picture's shorter side."""
    rows, columns = np.nonzero(ink)
    return max(rows.max() - rows.min() + 1, columns.max() - columns.min() + 1) / min(ink.shape)


class FamiliarityCheck:
    """The "not sure" of one kind of picture, measured with one classifier (the yardstick) and its statistics."""

    kind = "picture"  # what the training pictures are, for the sentences

    def __init__(self, model=None, density: FeatureDensity | None = None):
        self.model, self.density = model, density

    def prepare(self, image) -> tuple[np.ndarray, np.ndarray]:
        """(the picture's ink, the frame the yardstick reads); raises UnusableInputError for a blank picture."""
        raise NotImplementedError

    def distance(self, frame: np.ndarray) -> float:
        pixels = torch.from_numpy(np.asarray(frame, dtype=np.float32))[None, None]
        return float(self.density.distances(penultimate_features(self.model, pixels))[0])

    def doubt(self, image) -> str:
        """"" when the picture looks like the training data; otherwise a sentence saying why the answer is a guess."""
        ink, frame = self.prepare(image)
        extent = ink_extent(ink)
        if extent < MIN_EXTENT:
            return (f"**Not sure:** the ink covers only a small spot ({100 * extent:.0f} % of the picture's side), "
                    f"too little to be read as {self.kind}. Draw it larger, or crop the photo to it.")
        if self.density is None:
            return ""
        distance = self.distance(frame)
        if distance <= self.density.threshold:
            return ""
        return (f"**Not sure:** this does not look like {self.kind}. It is farther from everything the network "
                f"learnt ({distance:,.0f}) than {QUANTILE:g} % of real ones are ({self.density.threshold:,.0f}), "
                "so the answer above is a guess.")


def load_yardstick(plugin_name: str, folder_name: str):
    """(model, statistics) of a shipped classifier, from where the hub loads its weights. Without its weights
    or its statistics (a warning in the log) the check only looks at the ink: a tab never fails for it."""
    from .registry import get_plugin
    from .serving import resolve_weights

    try:
        folder, _ = resolve_weights(folder_name)
    except FileNotFoundError as error:
        logger.warning("no yardstick for the 'not sure' check (%s): it only looks at the ink", error)
        return None, None
    model = get_plugin(plugin_name).load_for_demo(folder)
    path = folder / STATISTICS_FILE
    if not path.is_file():
        logger.warning("%s has no %s: the 'not sure' check only looks at the ink", folder, STATISTICS_FILE)
        return model, None
    return model, FeatureDensity.load(path)


class DigitCheck(FamiliarityCheck):
    kind = "a handwritten digit"
    YARDSTICK = ("mnist-cnn", "mnist-cnn")  # plugin, shipped folder

    def prepare(self, image):
        from .mnist_cnn.preprocess import mnist_frame, picture_ink

        ink = picture_ink(image)
        return ink, mnist_frame(ink)

    @classmethod
    @functools.cache
    def load(cls) -> "DigitCheck":
        return cls(*load_yardstick(*cls.YARDSTICK))


class GlyphCheck(FamiliarityCheck):
    kind = "a Chinese character"
    YARDSTICK = ("font-style", "font-style-cnn")

    def prepare(self, image):
        from .font_style.preprocess import glyph_frame, picture_ink

        ink = picture_ink(image)
        return ink, glyph_frame(ink)

    @classmethod
    @functools.cache
    def load(cls) -> "GlyphCheck":
        return cls(*load_yardstick(*cls.YARDSTICK))

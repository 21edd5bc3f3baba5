"""An honest "not sure": whether a picture looks like what a classifier learnt from at all.

A classifier's softmax always shares out 100 % among its classes, so a dot, a scribble or a Chinese character
still gets a confident digit (a single dot was "0" at 93 %). The answer's own confidence cannot say "this is
no digit": at a 1 % false alarm rate on real MNIST digits, the best CNN's top probability would flag 26 % of
dots and 76 % of scribbles, its energy score 22 % and 78 % (`python -m plugins.familiarity_fit`). So the hub
asks a second question, in two steps.

**Ink statistics**, on the ink at the picture's own size: a picture whose ink covers only a small spot of it
(less than `MIN_EXTENT` of its shorter side: a dot, a speck, a digit too small to read; the MNIST preparation
would blow it up into a blob like a bold 0), is scattered specks (under `MIN_FILL` of the square on the ink's
longer side), or a blot (over `MAX_FILL`) is not strokes of a digit or a character. The limits sit outside
what real pictures do (see below).

**A distance to the digits in a feature space** (DigitCheck). The features are the input of the best digit
CNN's last layer (its 2,048 convolutional features). Each digit is a Gaussian with one covariance shared by
all ten, fitted on the 55,000 training digits, and a picture's distance is its Mahalanobis distance to the
nearest digit's mean (Lee et al., "A simple unified framework for detecting out-of-distribution samples and
adversarial attacks", NeurIPS 2018). The covariance keeps its `DIRECTIONS` leading principal directions
exactly and sums up the rest by their mean variance (probabilistic PCA, Tipping and Bishop 1999), so the
statistics are 0.6 MB and junk that moves the features where real digits never go still counts. The limit is
calibrated, not chosen: the `QUANTILE` percentile of the distances of MNIST's 5,000 validation digits (never
trained on), so about 1 % of real digits are "not sure" by construction.

Measured (`python -m plugins.familiarity_fit mnist-cnn pretrained/mnist-cnn --data-dir DATA/mnist`, 200
pictures a kind): the distance alone says "not sure" of 0.72 ± 0.08 % of the 10,000 test digits; the whole
check of 0 % of mouse drawings and 2 % of test digits photographed on grainy, dusty paper; and of 100 % of
dots, specks, hatching and filled boxes, 96.5 % of scribbles and 97 % of Chinese characters.

Every digit tab (CNN and MLP, each of their models) measures with the best CNN (`mnist-cnn`): "does this look
like an MNIST digit" is a property of the picture, not of the model that answers, and the best CNN's features
were the only ones of the four digit models that keep junk apart (fitted the same way, 64 directions and the
same 1 % of validation digits, the lecture CNN's and both MLPs' features caught at most 1 % of the scribbles
and none of the Chinese characters).

**The font-style tab** (GlyphCheck) uses the same ink statistics, then asks the digit check whether the
picture looks like a handwritten digit. The style network's own features cannot tell a character from other
strokes (it learnt four styles of the same characters and never anything else): fitted like the digits', its
distance caught 10 % of handwritten digits. Measured (`python -m plugins.familiarity_fit font-style
pretrained/font-style-cnn`): "not sure" of 1.4 ± 0.2 % of the 3,848 test glyphs (characters never trained on,
in all four fonts), of 100 % of handwritten digits and dots, 88 % of specks and 82 % of filled boxes, but of
only 6 % of scribbles and none of the hatching: loose strokes and parallel lines pass for characters (cursive
script and 川 are made of such strokes).
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
# Ink statistics, on the ink at the picture's own size (extent: the longer side of the ink's box over the
# picture's shorter side; fill: the share of the square on that side that is ink). Measured on real pictures
# (python -m plugins.familiarity_fit): MNIST test digits, mouse drawings, photos and the rendered glyphs of the
# four fonts all have extent >= 0.3 and fill 0.03-0.56; a dot fills 0.66-0.80, a filled box mostly more,
# scattered specks about 0.006.
MIN_EXTENT = 0.15
MIN_FILL, MAX_FILL = 0.02, 0.6
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


def ink_shape(ink: np.ndarray) -> tuple[float, float]:
    """(extent, fill): the longer side of the ink's box as a share of the picture's shorter side, and the share
    of the square on that side that is ink."""
    rows, columns = np.nonzero(ink > 0.5)
    if not len(rows):
        return 0.0, 0.0
    side = max(rows.max() - rows.min() + 1, columns.max() - columns.min() + 1)
    return side / min(ink.shape), len(rows) / side ** 2


class FamiliarityCheck:
    """The "not sure" of one kind of picture: ink statistics, then what `model_doubt` of a subclass adds."""

    kind = "picture"  # what the training pictures are, for the sentences

    def prepare(self, image) -> tuple[np.ndarray, np.ndarray]:
        """(the picture's ink, the frame the classifier reads); raises UnusableInputError for a blank picture."""
        raise NotImplementedError

    def model_doubt(self, image, frame: np.ndarray) -> str:
        return ""

    def doubt(self, image) -> str:
        """"" when the picture looks like the training data; otherwise a sentence saying why the answer is a guess."""
        ink, frame = self.prepare(image)
        extent, fill = ink_shape(ink)
        if extent < MIN_EXTENT:
            return (f"**Not sure:** the ink covers only a small spot ({100 * extent:.0f} % of the picture's side), "
                    f"too little to be read as {self.kind}. Draw it larger, or crop the photo to it.")
        if fill < MIN_FILL:
            return (f"**Not sure:** the ink is scattered specks ({100 * fill:.1f} % of its box), not the strokes "
                    f"of {self.kind}.")
        if fill > MAX_FILL:
            return (f"**Not sure:** the ink is a blot that fills {100 * fill:.0f} % of its box, not the strokes "
                    f"of {self.kind}.")
        return self.model_doubt(image, frame)


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
    """Ink statistics, then the distance to MNIST in the best digit CNN's features."""

    kind = "a handwritten digit"
    YARDSTICK = ("mnist-cnn", "mnist-cnn")  # plugin, shipped folder

    def __init__(self, model=None, density: FeatureDensity | None = None):
        self.model, self.density = model, density

    def prepare(self, image):
        from .mnist_cnn.preprocess import mnist_frame, picture_ink

        ink = picture_ink(image)
        return ink, mnist_frame(ink)

    def distance(self, frame: np.ndarray) -> float:
        pixels = torch.from_numpy(np.asarray(frame, dtype=np.float32))[None, None]
        return float(self.density.distances(penultimate_features(self.model, pixels))[0])

    def looks_like_a_digit(self, image) -> bool:
        """Whether the picture is as close to MNIST as 99 % of real digits (False without statistics)."""
        return self.density is not None and self.distance(self.prepare(image)[1]) <= self.density.threshold

    def model_doubt(self, image, frame):
        if self.density is None:
            return ""
        distance = self.distance(frame)
        if distance <= self.density.threshold:
            return ""
        return (f"**Not sure:** this does not look like {self.kind}. It is farther from every digit the network "
                f"learnt ({distance:,.0f}) than {QUANTILE:g} % of real ones are ({self.density.threshold:,.0f}), "
                "so the answer above is a guess.")

    @classmethod
    @functools.cache
    def load(cls) -> "DigitCheck":
        return cls(*load_yardstick(*cls.YARDSTICK))


class GlyphCheck(FamiliarityCheck):
    """Ink statistics, then: does it look like a handwritten digit? (The style network's own features do not
    tell a character from other strokes: it learnt styles of characters, never anything else.)"""

    kind = "a Chinese character"

    def __init__(self, digits: DigitCheck | None = None):
        self.digits = digits or DigitCheck()

    def prepare(self, image):
        from .font_style.preprocess import glyph_frame, picture_ink

        ink = picture_ink(image)
        return ink, glyph_frame(ink)

    def model_doubt(self, image, frame):
        if self.digits.looks_like_a_digit(image):
            return ("**Not sure:** this looks like a handwritten digit, not a Chinese character, so the style "
                    "above is a guess.")
        return ""

    @classmethod
    @functools.cache
    def load(cls) -> "GlyphCheck":
        return cls(DigitCheck.load())

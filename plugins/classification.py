"""What every image-classifier plugin measures the same way: logits gathered over processes, accuracy ± error."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def binomial_error(accuracy: float, count: int) -> float:
    """Standard error of an accuracy measured on `count` independent examples."""
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / max(1, count))


def keras_categorical_crossentropy(logits: torch.Tensor, labels: torch.LongTensor, clip: float = 1e-7) -> torch.Tensor:
    """Mean cross-entropy as Keras computes it on a softmax output (the lecture's `categorical_crossentropy`).

    Keras clips the probabilities to [clip, 1 - clip] before the logarithm, so an example whose true class
    has probability below `clip` (a confidently wrong or mislabelled digit) or above 1 - clip adds a
    constant and no gradient; inside the clip it equals `F.cross_entropy` in value and gradient.
    """
    true_class = logits.float().softmax(-1).gather(1, labels[:, None]).clamp(clip, 1.0 - clip)
    return -true_class.log().mean()


@torch.no_grad()
def gather_logits(model, dataloader, accelerator) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels) of a whole prepared dataloader, gathered from every process without the padding
    Accelerate adds to even out the last batch, so figures do not depend on the number of processes."""
    model.eval()
    logits, labels = [], []
    for batch in dataloader:
        output = model(pixel_values=batch["pixel_values"])
        batch_logits, batch_labels = accelerator.gather_for_metrics((output.logits.float(), batch["labels"]))
        logits.append(batch_logits.cpu())
        labels.append(batch_labels.cpu())
    model.train()
    return torch.cat(logits), torch.cat(labels)


def loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    return {"loss": F.cross_entropy(logits, labels).item(), "accuracy": (logits.argmax(-1) == labels).float().mean().item()}

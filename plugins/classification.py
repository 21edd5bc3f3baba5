"""What every image-classifier plugin measures the same way: logits gathered over processes, accuracy ± error."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def binomial_error(accuracy: float, count: int) -> float:
    """Standard error of an accuracy measured on `count` independent examples."""
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / max(1, count))


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

"""Augmentation of glyph batches on the training device, drawn from the global torch RNG (exact resume)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def random_shift(images: torch.Tensor, shift: int, fill: float) -> torch.Tensor:
    """Move each image of (batch, channels, H, W) by its own whole-pixel offset in [-shift, shift].

    Uncovered pixels get `fill` (the paper's value: -1 in GAN space, 0 for the classifier).
    """
    if shift <= 0:
        return images
    count, channels, height, width = images.shape
    padded = F.pad(images, (shift, shift, shift, shift), value=fill)
    offsets = torch.randint(0, 2 * shift + 1, (2, count), device=images.device)
    rows = (offsets[0][:, None] + torch.arange(height, device=images.device))[:, None, :, None]
    columns = (offsets[1][:, None] + torch.arange(width, device=images.device))[:, None, None, :]
    batch = torch.arange(count, device=images.device)[:, None, None, None]
    channel = torch.arange(channels, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows, columns]

"""Small in-memory data sets shared by plugins."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class TensorDictDataset(Dataset):
    """Named tensors of equal length, served one example or one whole batch at a time.

    `__getitems__` lets the DataLoader fetch a batch with one indexing
    operation per field instead of one Python call per example: on a 2-core
    machine that is the difference between feeding the model and starving it.
    """

    def __init__(self, **fields: torch.Tensor):
        lengths = {name: len(tensor) for name, tensor in fields.items()}
        if not fields or len(set(lengths.values())) != 1:
            raise ValueError(f"fields must be non-empty tensors of one length, got {lengths}")
        self.fields = fields

    def __len__(self) -> int:
        return len(next(iter(self.fields.values())))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {name: tensor[index] for name, tensor in self.fields.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return {name: tensor[index] for name, tensor in self.fields.items()}


def collate_examples(examples):
    """Batch dicts from `__getitems__` pass through; lists of examples are stacked."""
    if isinstance(examples, dict):
        return examples
    return torch.utils.data.default_collate(examples)

"""The melody VAE's model-card body, written from a run's saved results."""

from __future__ import annotations

from typing import Any


def card_body(results: dict[str, Any]) -> str:
    return ""

"""Same-run comparisons for the benchmarks that state a ratio: alternate the contenders, report medians and spreads.

A ratio between two sides is only worth printing when both were measured in the
same run, under the same load: `alternate` runs one untimed warm-up round of
each contender, then rounds A B A B ..., so a burst of load on a shared machine
lands on both sides. `Comparison` turns the per-round rates into each side's
median and range, and the ratio of the medians with the range of the per-round
ratios (round i of one side against round i of the other, measured seconds
apart). A side that was not measured (the Keras peer where Keras is not
installed) has no rates, and the ratio is omitted: this module never makes up
a number for it.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from dataclasses import dataclass
from typing import Callable

KERAS_MISSING = "Keras not installed: no ratio"


def keras_installed() -> bool:
    """Whether the Keras peers can run. Keras 3 reads its backend at import, so the torch one is chosen here,
    before any bench imports it; a Keras already imported with another backend is refused."""
    if importlib.util.find_spec("keras") is None:
        return False
    os.environ["KERAS_BACKEND"] = "torch"
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"Keras was imported with the {keras.backend.backend()} backend; the peers need torch")
    return True


def steps_per_second(step: Callable[[], None], steps: int) -> float:
    """Calls of `step` per second over `steps` calls."""
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - started)


def alternate(contenders: dict[str, Callable[[], float]], rounds: int,
              warmup_rounds: int = 1) -> dict[str, list[float]]:
    """Runs each contender's round (a callable that does a fixed amount of work and returns its rate)
    `warmup_rounds` times untimed, then `rounds` times in turn, A B A B ...; returns the rates, by name, in
    round order."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    for _ in range(warmup_rounds):
        for run in contenders.values():
            run()
    rates = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            rates[name].append(float(run()))
    return rates


@dataclass(frozen=True)
class Spread:
    """A median with the lowest and highest value it summarises."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def format(self, digits: int, unit: str = "") -> str:
        """`median<unit> (low-high)`, e.g. `5.67 it/s (5.02-5.80)` or `1.38x (1.21-1.52)`."""
        return f"{self.median:,.{digits}f}{unit} ({self.low:,.{digits}f}-{self.high:,.{digits}f})"

    def as_dict(self) -> dict:
        return {"median": self.median, "min": self.low, "max": self.high}


@dataclass(frozen=True)
class Comparison:
    """Ours against a peer from one `alternate` run; `peer_rates` is None where the peer could not run."""

    ours_rates: list[float]
    peer_rates: list[float] | None

    @property
    def ours(self) -> Spread:
        return Spread.of(self.ours_rates)

    @property
    def peer(self) -> Spread | None:
        return Spread.of(self.peer_rates) if self.peer_rates else None

    @property
    def ratio(self) -> Spread | None:
        """Ours over the peer: the ratio of the medians, with the range of the per-round ratios."""
        if not self.peer_rates:
            return None
        per_round = [ours / peer for ours, peer in zip(self.ours_rates, self.peer_rates, strict=True)]
        return Spread(self.ours.median / self.peer.median, min(per_round), max(per_round))

    def format(self, unit: str, digits: int, missing: str = KERAS_MISSING, peer_name: str = "peer") -> str:
        """One line: ours, the peer and the ratio, each as median (min-max); `missing` instead of the last two."""
        line = f"ours {self.ours.format(digits, ' ' + unit)}"
        if self.ratio is None:
            return f"{line}; {missing}"
        return f"{line}; {peer_name} {self.peer.format(digits, ' ' + unit)}; ratio {self.ratio.format(2, 'x')}"

    def as_dict(self) -> dict:
        """For the JSON files: the rounds and summaries; the peer's and the ratio's are None when not measured."""
        return {"ours": {**self.ours.as_dict(), "rounds": self.ours_rates},
                "peer": None if self.peer is None else {**self.peer.as_dict(), "rounds": self.peer_rates},
                "ratio": None if self.ratio is None else self.ratio.as_dict()}

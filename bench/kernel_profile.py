"""Where a training step's time goes, ours and the peer's alike: the evidence for the limit on a speed ratio.

`kernel_breakdown` runs one round of a contender under torch.profiler and sums the CPU time of each kind of
kernel per step: the convolutions (oneDNN), the matrix products (MKL) and everything else (element-wise
kernels, the optimizer, autograd's and the framework's own work). Both sides of a comparison run the same
oneDNN and MKL kernels for the same layers, so the peer's step time over the time in those kernels bounds
the ratio any framework work on our side could reach.
"""

from __future__ import annotations

from typing import Callable

from torch.profiler import ProfilerActivity, profile

CONVOLUTIONS = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution",
                "aten::mkldnn_convolution_transpose", "aten::slow_conv_transpose2d")
MATRIX_PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def kernel_breakdown(run: Callable[[], object], steps: int) -> dict[str, float]:
    """Milliseconds per step in convolutions, matrix products and the rest, over one call of `run` (a round
    of `steps` steps); self CPU times, so nothing is counted twice."""
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        run()
    totals = {"convolutions": 0.0, "matrix products": 0.0, "everything else": 0.0}
    for event in profiler.key_averages():
        kind = ("convolutions" if event.key in CONVOLUTIONS
                else "matrix products" if event.key in MATRIX_PRODUCTS else "everything else")
        totals[kind] += event.self_cpu_time_total / 1000 / steps
    totals["total"] = sum(totals.values())
    return totals


def format_breakdown(name: str, breakdown: dict[str, float]) -> str:
    total = breakdown["total"]
    parts = ", ".join(f"{kind} {value:.1f} ms ({100 * value / total:.0f} %)"
                      for kind, value in breakdown.items() if kind != "total")
    return f"{name}: {total:.1f} ms/step under the profiler: {parts}"


def ratio_bound(peer: dict[str, float], ours: dict[str, float]) -> float:
    """The ratio ours would reach if everything but its convolutions and matrix products took no time."""
    return peer["total"] / (ours["convolutions"] + ours["matrix products"])

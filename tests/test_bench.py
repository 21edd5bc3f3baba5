"""The benchmarks' same-run comparison helper (bench/alternate.py): it alternates, and it never invents a ratio."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import alternate  # noqa: E402
from alternate import KERAS_MISSING, Comparison, Spread  # noqa: E402


def test_contenders_alternate_round_by_round_after_a_warm_up_round():
    calls = []

    def contender(name):
        def run():
            calls.append(name)
            return float(len(calls))
        return run

    rates = alternate.alternate({"ours": contender("ours"), "keras": contender("keras")}, rounds=3)

    assert calls == ["ours", "keras"] * 4  # one warm-up round, then A B A B A B
    assert rates == {"ours": [3.0, 5.0, 7.0], "keras": [4.0, 6.0, 8.0]}  # the warm-up round is not kept


def test_the_ratio_is_of_the_medians_with_the_range_of_the_per_round_ratios():
    comparison = Comparison(ours_rates=[2.0, 6.0, 4.0], peer_rates=[1.0, 2.0, 2.0])

    assert comparison.ours == Spread(4.0, 2.0, 6.0)
    assert comparison.ratio == Spread(2.0, 2.0, 3.0)  # 4 / 2; rounds 2/1, 6/2, 4/2
    line = comparison.format("it/s", 1)
    assert "ours 4.0 it/s (2.0-6.0)" in line and "peer 2.0 it/s (1.0-2.0)" in line and "ratio 2.00x (2.00-3.00)" in line
    assert "; Keras 2.0 it/s (1.0-2.0); " in comparison.format("it/s", 1, peer_name="Keras")


def test_without_the_peer_the_report_has_ours_and_no_ratio():
    comparison = Comparison(ours_rates=[5.0, 6.0, 7.0], peer_rates=None)

    assert comparison.ratio is None and comparison.peer is None
    line = comparison.format("it/s", 2)
    assert line == f"ours 6.00 it/s (5.00-7.00); {KERAS_MISSING}"
    assert "ratio" not in line.replace(KERAS_MISSING, "") and "x" not in line.replace(KERAS_MISSING, "")
    assert comparison.as_dict()["peer"] is None and comparison.as_dict()["ratio"] is None


def test_keras_counts_as_missing_when_it_cannot_be_imported(monkeypatch):
    monkeypatch.setattr(alternate.importlib.util, "find_spec", lambda name: None)

    assert alternate.keras_installed() is False

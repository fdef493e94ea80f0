"""Propagation latency summaries: nearest-rank percentiles (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.latency import LatencySummary, nearest_rank, summarise

samples = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=300)


def test_figures_of_a_known_list() -> None:
    # Given 100 samples 1..100 µs, shuffled
    values = [(i * 37) % 100 + 1 for i in range(100)]
    # Then the median is the 50th, the p99 the 99th, the max the 100th
    assert summarise(values) == LatencySummary(100, 50, 99, 100)


def test_one_sample_is_every_figure() -> None:
    assert summarise([7]) == LatencySummary(1, 7, 7, 7)


def test_few_samples_put_p99_on_the_worst() -> None:
    assert summarise([3, 1, 2]) == LatencySummary(3, 2, 3, 3)


def test_no_samples_summarise_to_none() -> None:
    assert summarise([]) is None


def test_a_negative_sample_counts_as_zero() -> None:
    assert summarise([-5, 10]) == LatencySummary(2, 0, 10, 10)


@pytest.mark.parametrize("fraction", [0, -0.1, 1.01])
def test_a_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        nearest_rank([1, 2], fraction)


def test_no_samples_have_no_rank() -> None:
    with pytest.raises(ValueError, match="no samples"):
        nearest_rank([], 0.5)


@given(samples, st.floats(min_value=0.001, max_value=1.0))
def test_nearest_rank_is_the_smallest_sample_covering_the_fraction(
    values: list[int], fraction: float
) -> None:
    ordered = sorted(values)
    rank = nearest_rank(ordered, fraction)
    # It is one of the samples, at least `fraction` of them are at or below it,
    # and no smaller sample covers as many.
    assert rank in ordered
    assert sum(v <= rank for v in ordered) >= fraction * len(ordered)
    smaller = [v for v in ordered if v < rank]
    assert not smaller or sum(v <= smaller[-1] for v in ordered) < fraction * len(ordered)


@given(samples)
def test_figures_are_ordered_and_independent_of_order(values: list[int]) -> None:
    summary = summarise(values)
    assert summary is not None
    assert summary.samples == len(values)
    assert min(values) <= summary.p50_us <= summary.p99_us <= summary.max_us == max(values)
    assert summarise(reversed(values)) == summary

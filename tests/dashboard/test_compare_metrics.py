"""The Compare page's statistics (overlap@k, rank-biased overlap, Kendall's tau, bootstrap
intervals, the aggregate over users) against hand-computed cases, and its chart builders."""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import polars as pl
import pytest

from dashboard.charts import compare as charts
from engine.analytics.compare import (
    aggregate,
    bootstrap_mean,
    kendall_tau,
    overlap_at_k,
    pair_statistics,
    rank_shifts,
    rbo,
)

P = 0.9


def rbo_by_the_formula(s: list[str], t: list[str], p: float = P) -> float:
    """Webber et al. (2010) equation 32, transcribed term by term (S the shorter list)."""
    if len(s) > len(t):
        s, t = t, s
    sl, ll = len(s), len(t)

    def x(d: int) -> int:
        return len(set(s[: min(d, sl)]) & set(t[:d]))

    first = sum(x(d) / d * p**d for d in range(1, ll + 1))
    second = sum(x(sl) * (d - sl) / (sl * d) * p**d for d in range(sl + 1, ll + 1))
    return (1 - p) / p * (first + second) + ((x(ll) - x(sl)) / ll + x(sl) / sl) * p**ll


# --- overlap@k --------------------------------------------------------------------------------


def test_overlap_at_k_counts_shared_items_in_the_first_k_places():
    assert overlap_at_k(list("abcd"), list("dcba"), 4) == 1.0
    assert overlap_at_k(list("abcd"), list("axyb"), 4) == 0.5
    assert overlap_at_k(list("abcd"), list("xyab"), 2) == 0.0  # a, b are beyond k = 2
    assert overlap_at_k(list("ab"), list("ab"), 4) == 0.5  # divided by k, as @k says


# --- rank-biased overlap ----------------------------------------------------------------------


def test_rbo_of_identical_lists_is_one_and_of_disjoint_lists_zero():
    assert rbo(list("abcdefghij"), list("abcdefghij")) == pytest.approx(1.0)
    assert rbo(list("abc"), list("xyz")) == 0.0
    assert rbo([], []) == 1.0
    assert rbo(list("abc"), []) == 0.0


def test_rbo_of_a_swap_by_hand():
    # X_1 = 1, X_2 = 1, X_3 = 3: (1-p)/p (0.9 + 0.5 * 0.81 + 1 * 0.729) + 1 * 0.729
    expected = (1 - P) / P * (0.9 + 0.5 * 0.81 + 0.729) + 0.729
    assert expected == pytest.approx(0.955)
    assert rbo(list("abc"), list("acb")) == pytest.approx(0.955)


def test_rbo_weighs_the_top_more_than_the_bottom():
    top_swapped = rbo(list("bacdef"), list("abcdef"))
    bottom_swapped = rbo(list("abcdfe"), list("abcdef"))
    assert top_swapped < bottom_swapped < 1.0


def test_rbo_of_uneven_lists_by_hand():
    # S = (a, b), L = (b, a, c): X_1 = 0, X_2 = 2, X_3 = 2; s = 2, l = 3
    # (1-p)/p (2/2 p^2 + 2/3 p^3 + 2 (3-2)/(2*3) p^3) + ((2-2)/3 + 2/2) p^3 = 0.171 + 0.729
    assert rbo(list("ab"), list("bac")) == pytest.approx(0.9)
    assert rbo(list("bac"), list("ab")) == pytest.approx(0.9)  # symmetric
    # a prefix agrees fully so far, and RBO_EXT extrapolates that agreement
    assert rbo(list("abc"), list("abcdef")) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("abcdefghij", "bacdefghij"),
        ("abcdefghij", "jihgfedcba"),
        ("abcde", "axbyczdw"),
        ("abcdefgh", "hgxyz"),
        ("abcdefghij", "klmnoabcde"),
    ],
)
def test_rbo_matches_the_papers_equation_term_by_term(a, b):
    assert rbo(list(a), list(b)) == pytest.approx(rbo_by_the_formula(list(a), list(b)))


# --- Kendall's tau ----------------------------------------------------------------------------


def test_kendall_tau_of_a_swap_by_hand():
    # a < b < c against a < c < b: pairs (a,b) and (a,c) agree, (b,c) does not: (2-1)/3
    assert kendall_tau(list("abc"), list("acb")) == pytest.approx(1 / 3)
    assert kendall_tau(list("abcd"), list("abcd")) == pytest.approx(1.0)
    assert kendall_tau(list("abcd"), list("dcba")) == pytest.approx(-1.0)


def test_kendall_tau_ranks_missing_items_after_the_end_of_a_list():
    # union a, b, c; A = (a, b) gives c rank 3; B = (b, c) gives a rank 3:
    # (a,b) discordant, (a,c) discordant, (b,c) concordant: (1 - 2) / 3
    assert kendall_tau(list("ab"), list("bc")) == pytest.approx(-1 / 3)


def test_kendall_tau_with_ties_is_tau_b():
    # A = (a, b, c), B = (a, d): union a, b, c, d; ranks A: 1 2 3 4, B: 1 3 3 2
    # pairs: ab C, ac C, ad C, bc tie in B, bd D, cd D: n_c = 3, n_d = 2, 6 pairs, 1 tied in B
    expected = (3 - 2) / math.sqrt(6 * (6 - 1))
    assert kendall_tau(list("abc"), list("ad")) == pytest.approx(expected)


def test_kendall_tau_is_undefined_for_fewer_than_two_items():
    assert math.isnan(kendall_tau(["a"], ["a"]))
    assert math.isnan(kendall_tau([], []))


# --- pairs, shifts, bootstrap, aggregate ------------------------------------------------------


def test_pair_statistics_has_one_row_per_pair():
    lists = {"x": list("abcd"), "y": list("abdc"), "z": list("wxyz")}
    pairs = pair_statistics(lists, 4)
    assert pairs.select("a", "b").rows() == [("x", "y"), ("x", "z"), ("y", "z")]
    assert pairs["overlap"].to_list() == [1.0, 0.0, 0.0]
    assert pairs["rbo"][0] == pytest.approx(rbo(list("abcd"), list("abdc")))


def test_rank_shifts_compare_every_list_with_the_first():
    shifts = rank_shifts({"ref": list("abc"), "other": list("cax")})
    other = shifts.filter(pl.col("source") == "other")
    assert other["item"].to_list() == ["c", "a", "x"]
    assert other["reference_rank"].to_list() == [3, 1, None]
    assert other["shift"].to_list() == [2, -1, None]  # c rose two places, a fell one


def test_bootstrap_interval_brackets_the_mean():
    rng = np.random.default_rng(1)
    values = rng.normal(0.5, 0.1, 400)
    mean, low, high = bootstrap_mean(values)
    assert low < mean < high
    assert mean == pytest.approx(values.mean())
    assert high - low == pytest.approx(2 * 1.96 * values.std() / 20, rel=0.2)
    assert bootstrap_mean([0.3, 0.3, 0.3]) == pytest.approx((0.3, 0.3, 0.3))
    assert all(math.isnan(v) for v in bootstrap_mean([]))


def test_aggregate_coverage_popularity_bias_and_overlap_by_hand():
    popularity = pl.DataFrame(
        {"item": ["a", "b", "c", "d"], "percentile": [1.0, 2 / 3, 1 / 3, 0.0]}
    )
    lists = [
        {"pop": ["a", "b"], "niche": ["c", "d"]},
        {"pop": ["a", "b"], "niche": ["b", "d"]},
    ]
    stats = aggregate(lists, popularity, k=2)
    sources = {r["source"]: r for r in stats["sources"].iter_rows(named=True)}
    assert sources["pop"]["coverage"] == 0.5  # a, b of 4 items
    assert sources["niche"]["coverage"] == 0.75  # b, c, d
    assert sources["pop"]["popularity_bias"] == pytest.approx((1 + 2 / 3) / 2)
    assert sources["niche"]["popularity_bias"] == pytest.approx(((1 / 3) / 2 + (2 / 3) / 2) / 2)
    pair = stats["pairs"].row(0, named=True)
    assert (pair["a"], pair["b"], pair["users"]) == ("pop", "niche", 2)
    assert pair["overlap"] == pytest.approx(0.25)  # 0 of 2, then 1 of 2
    assert stats["overlaps"]["overlap"].to_list() == [0.0, 0.5]


# --- chart builders ---------------------------------------------------------------------------


def test_shift_arrows():
    assert charts.shift_text(3, True) == "▲ 3"
    assert charts.shift_text(-2, True) == "▼ 2"
    assert charts.shift_text(0, True) == "="
    assert charts.shift_text(None, False) == "new"


def test_list_table_joins_metadata_and_arrows():
    shifts = rank_shifts({"ref": ["a", "b"], "other": ["b", "c"]})
    details = pl.DataFrame({"item": ["c", "b"], "CATEGORY": ["toys", "books"], "age_days": [3, 9]})
    table = charts.list_table(
        ["b", "c"], shifts.filter(pl.col("source") == "other"), details, ["CATEGORY"]
    )
    assert table.columns == ["#", "item", "shift", "CATEGORY", "age_days"]
    assert table.rows() == [(1, "b", "▲ 1", "books", 9), (2, "c", "new", "toys", 3)]


def test_why_table_names_the_items_that_pull_each_one_up():
    explained = pl.DataFrame(
        {
            "item": ["x", "y"],
            "pulled_by": [["h1", "h2"], None],
            "shared_users": [[40, 7], None],
            "users": [100, 0],
            "popularity_rank": [3, None],
        }
    )
    details = pl.DataFrame({"item": ["x", "h1"], "CATEGORY": ["toys", "books"]})
    table = charts.why_table(["x", "y"], ["", "Exploration"], explained, details, "CATEGORY", 50)
    first, second = table.rows(named=True)
    assert first["pulled up by"] == "h1 (books, 40), h2 (7)"
    assert first["popularity"] == "#3 of 50"
    assert second["pulled up by"] == "nothing in the history"
    assert second["reason"] == "Exploration"
    assert second["popularity"] == "no events"


def test_rank_chart_draws_a_line_for_items_in_several_lists():
    shifts = rank_shifts({"A": ["a", "b"], "B": ["b", "c"]})
    figure = charts.rank_chart(shifts, ["A", "B"])
    by_item = {trace.name: trace for trace in figure.data}
    assert list(by_item["b"].x) == [0, 1] and list(by_item["b"].y) == [2, 1]
    assert "lines" in by_item["b"].mode
    assert "lines" not in by_item["a"].mode  # only in one list: a dot
    assert figure.layout.yaxis.autorange == "reversed"


def test_statistical_charts_are_altair_with_intervals_and_distributions():
    pairs = pl.DataFrame({"pair": ["A vs B"], "overlap": [0.5], "low": [0.4], "high": [0.6]})
    chart = charts.estimates_chart(pairs, "pair", "overlap", "low", "high", "overlap")
    spec = chart.to_dict()
    assert isinstance(chart, alt.LayerChart)
    assert spec["layer"][0]["encoding"]["x2"]["field"] == "high"
    overlaps = pl.DataFrame({"pair": ["A vs B"] * 4, "overlap": [0.0, 0.5, 0.5, 1.0]})
    dist = charts.overlap_distribution(overlaps, 2).to_dict()
    rows = next(iter(dist["datasets"].values()))
    shares = {r["shared"]: r["share"] for r in rows}
    assert shares == {0: 0.25, 1: 0.5, 2: 0.25}
    sources = pl.DataFrame({"source": ["A"], "coverage": [0.2], "distinct_items": [20]})
    assert isinstance(charts.coverage_chart(sources), alt.LayerChart)

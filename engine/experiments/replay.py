"""Offline replay: how a candidate model would have done on logged recommendation lists.

The log is a set of exposures: a list `L` shown to a user at time `t` by the variant the user
was assigned to, and the item clicked from it (if any). The candidate's list `C` is its top-k
for that user at `t`: scored with the user's events *before* `t` (so the click itself, which
comes after, never leaks in), without the items the user had already seen and without items
created after `t`. The model itself should have been trained on data from before the logged
period; Tailor cannot check that (a model trained on the period has seen the clicks).

Estimators of the candidate's click-through (clicked lists per list shown):

- **Replay** (Li, Chu, Langford, Wang, "Unbiased Offline Evaluation of Contextual-bandit-based
  News Article Recommendation Algorithms", WSDM 2011), per slot: every shown item is one
  logged trial; a trial is replayed when the logged and the candidate lists agree on it (the
  candidate's top-k holds it too); the clicks among replayed trials over the replayed trials
  is the per-slot click rate, times k the list's click-through. `replayExact` keeps only the
  exposures whose list the candidate would have shown exactly (as a set): Li et al.'s rule
  applied to whole lists; unbiased but usually with very few matches.
- **IPS** (inverse propensity scoring): each replayed trial's click is weighted by
  `1 / propensity`, summed and divided by the number of exposures. **SNIPS**, its
  self-normalised form, divides instead by the sum of the weights (times 1/k), which removes
  most of IPS's variance at the price of a small bias. With equal traffic shares SNIPS and
  the per-slot replay coincide.

Assumptions (stated because the estimates are only as good as they are):

1. A click depends on the user and the item, not on the item's position in the list or on
   the other items shown (each logged position is treated alike: uniform over the list's
   positions), and a list gets at most one click, so a list's click-through is the sum of its
   slots' click rates.
2. Propensities come from the experiment's assignment: the user fell into variant v with
   probability `share_v`, and v's list was deterministic given the user, so an item shown by v
   had propensity `share_v`. The other variants' lists at that moment are unknown and taken to
   be disjoint from it (an item every variant would have shown really had propensity 1, so it
   is over-weighted; self-normalisation dampens this).
3. Items the candidate would show that no variant showed cannot be evaluated (no support):
   IPS counts them as never clicked (a pessimistic estimate), SNIPS and replay assume they
   would be clicked like the candidate's items that were shown. `support` is the share of
   the candidate's slots the log covers, in expectation: low support means the estimates
   extrapolate.

Intervals are percentile bootstraps that resample users (an exposure's clicks are correlated
with the same user's other exposures).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.experiments import statistics as st
from engine.experiments.review import clean
from engine.recipes.base import BATCH, History, top_n
from engine.serving.history import MAX_HISTORY, UserEvents

ASSUMPTIONS = [
    "clicks depend on the user and the item, not on the position or the rest of the list "
    "(uniform over the list's positions); at most one click per list",
    "propensity of a shown item = the traffic share of the variant that showed it (variants "
    "deterministic given the user; other variants' lists assumed disjoint)",
    "candidate items no variant showed have no support: IPS counts them as unclicked, "
    "replay/SNIPS extrapolate from the supported ones (see support)",
    "the candidate scores each exposure with the user's events before it; its model should "
    "be trained on data from before the logged period",
]


@dataclass
class Exposure:
    """One logged recommendation list."""

    recommendation_id: str
    variant: str
    user: str
    time: float
    items: list[str]
    clicked: str | None


def candidate_lists(
    model: Any,
    exposures: list[Exposure],
    events_of: Callable[[str], UserEvents],
    created: np.ndarray | None,
    k: int,
) -> list[list[str]]:
    """The candidate model's top-k for each exposure's user at the exposure's time."""
    out: list[list[str]] = []
    names = np.array(model.items.external_ids, dtype=object)
    for start in range(0, len(exposures), BATCH):
        batch = exposures[start : start + BATCH]
        users, items, times = [], [], []
        for e in batch:
            events = events_of(e.user)
            cut = int(np.searchsorted(events.times, e.time, side="left"))
            low = max(0, cut - MAX_HISTORY)
            items.append(events.items[low:cut])
            times.append(events.times[low:cut])
            dense = model.users.dense(e.user)
            users.append(dense if dense is not None else len(model.users) + 1)
        scores = model.recipe.score_all(np.array(users), History(items, times, None), None)
        scores = np.array(scores, dtype=np.float64)
        n = scores.shape[1]
        for row, seen in enumerate(items):
            scores[row, seen[seen < n]] = -np.inf
        if created is not None and len(created):
            made = np.full(n, -1, np.int64)
            made[: min(n, len(created))] = created[:n]
            at = np.array([e.time for e in batch])
            scores[made[None, :] > at[:, None]] = -np.inf
        ids, _ = top_n(scores, k)
        valid = (ids >= 0) & (ids < len(names))
        chosen = names[np.where(valid, ids, 0)]
        out.extend(list(row[ok]) for row, ok in zip(chosen, valid, strict=True))
    return out


def estimate(
    exposures: list[Exposure],
    candidates: list[list[str]],
    shares: dict[str, float],
    k: int,
    repeats: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Replay, IPS and SNIPS estimates of the candidate's click-through with bootstrap
    intervals, next to the logged click-through (see the module docstring)."""
    n = len(exposures)
    names, user_index = np.unique([e.user for e in exposures] or [""], return_inverse=True)
    user_index = user_index[:n]
    overlap = np.zeros(n)
    hit = np.zeros(n)
    clicked = np.zeros(n)
    recalled = np.zeros(n)
    exact = np.zeros(n)
    propensity = np.ones(n)
    for i, (e, cand) in enumerate(zip(exposures, candidates, strict=True)):
        shown, wanted = set(e.items), set(cand)
        agreed = shown & wanted
        overlap[i] = len(agreed)
        exact[i] = float(shown == wanted)
        propensity[i] = shares.get(e.variant, 1.0)
        if e.clicked is not None:
            clicked[i] = 1.0
            recalled[i] = float(e.clicked in wanted)
            hit[i] = float(e.clicked in agreed)
    ips_terms = hit / propensity
    weights = overlap / propensity
    per_user = {
        name: np.bincount(user_index, weights=values, minlength=len(names))
        for name, values in {
            "ones": np.ones(n),
            "overlap": overlap,
            "hit": hit,
            "clicked": clicked,
            "recalled": recalled,
            "exact": exact,
            "exact_hit": exact * clicked,
            "ips": ips_terms,
            "weights": weights,
        }.items()
    }
    boot = st.bootstrap_weights(len(names) if n else 0, repeats, seed)

    def ratio(num: str, den: str, scale: float = 1.0) -> dict[str, Any]:
        total = per_user[den].sum()
        value = scale * per_user[num].sum() / total if total else float("nan")
        low, high = st.bootstrap_ratio_interval(boot, per_user[num], per_user[den], scale, alpha)
        return {"value": value, "ciLow": low, "ciHigh": high}

    by_variant: dict[str, dict[str, Any]] = {}
    for name in sorted({e.variant for e in exposures}):
        mask = np.array([e.variant == name for e in exposures])
        by_variant[name] = {
            "exposures": int(mask.sum()),
            "clicks": int(clicked[mask].sum()),
            "clickThrough": float(clicked[mask].mean()) if mask.any() else None,
        }
    return clean(
        {
            "k": k,
            "exposures": n,
            "clickedExposures": int(clicked.sum()),
            "logged": {"clickThrough": ratio("clicked", "ones"), "byVariant": by_variant},
            "replay": {
                "clickThrough": ratio("hit", "overlap", k),
                "matchedExposures": int((overlap > 0).sum()),
                "matchedSlots": int(overlap.sum()),
                "matchedClicks": int(hit.sum()),
            },
            "replayExact": {
                "clickThrough": ratio("exact_hit", "exact"),
                "matchedExposures": int(exact.sum()),
                "matchedClicks": int((exact * clicked).sum()),
            },
            "ips": {"clickThrough": ratio("ips", "ones")},
            "snips": {
                "clickThrough": ratio("ips", "weights", k),
                "support": float(weights.sum() / (k * n)) if n else None,
            },
            "clickRecall": ratio("recalled", "clicked"),
            "bootstrap": {"repeats": repeats, "unit": "users", "seed": seed},
            "assumptions": ASSUMPTIONS,
        }
    )

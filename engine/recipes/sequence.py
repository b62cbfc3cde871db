"""tailor-sequence: next-items recommendation from the order and timing of a user's history.

Five item-item signals are scored for every item from the `History` passed at answer time
(oldest first, with timestamps), so a new event changes the next answer without retraining:

- `recent`: EASE (Steck 2019) applied to the history weighted by recency,
  exp(-position_from_newest / recency_decay): long-term taste, leaning on what came last;
- `profile`: the same EASE weights applied to the whole history, unweighted;
- `ridge`: a sequential ridge regression ("sequential EASE") from the decayed last
  `context_length` items to the decayed next `horizon` items, fitted in closed form over every
  position of every training sequence: W = (C^T C + ridge_lambda I)^-1 C^T Y;
- `transitions`: item -> item counts of the next 1..`transition_window` items (skip-grams with
  decaying weight), row-normalised, applied to the last `transition_recent` items;
- `session`: symmetric co-occurrence of events at most `session_gap` seconds apart (items
  rated or bought in the same sitting), applied to the items of the user's latest sitting.

Each signal is scaled to a maximum of 1 per user. A fixed blend of them (`prior_*` weights)
picks `candidates` items per user; the candidates are then ranked by a logistic model whose
weights depend on the length of the user's history and on item popularity (long histories end
in less popular items). That model is fitted during training on the training data itself
("stacking"): the newest `holdout_fraction` of every user's events is held out, the signals
are fitted on the rest, and the model learns which candidates were the held-out events; then
the signals are refitted on all events. Items outside the candidates rank after them, in the
blend's order; users with no known item get the popular list.

The EASE and ridge matrices are dense (float32 beyond 8,000 items) over the items with at
least `min_item_users` users, whose number is capped at `max_items`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp
import scipy.special
from pydantic import Field

from engine.recipes.base import (
    BATCH,
    History,
    Hyperparameters,
    Interactions,
    ProgressFn,
    Recipe,
    TrainingData,
)
from engine.recipes.ease import FLOAT64_MAX_ITEMS, ease_weights, spd_inverse
from engine.recipes.item_knn import sparse_from_state, sparse_state

SIGNALS = ("recent", "profile", "ridge", "transitions", "session")
SPARSE_PARTS = ("ridge_targets", "transitions", "session")


class Config(Hyperparameters):
    """tailor-sequence's hyperparameters (defaults tuned on MovieLens-100K). Quality knobs
    carry both bounds (the HPO search space); operational ones only a lower bound."""

    ease_lambda: float = Field(
        500.0, ge=10.0, le=10_000.0, description="L2 penalty of the EASE item-item weights."
    )
    recency_decay: float = Field(
        20.0,
        ge=1.0,
        le=1000.0,
        description="The `recent` signal weighs the k-th newest event by exp(-k / this).",
    )
    ridge_lambda: float = Field(
        300.0, ge=1.0, le=10_000.0, description="L2 penalty of the sequential ridge."
    )
    context_length: int = Field(
        10, ge=1, le=50, description="Newest events the sequential ridge reads."
    )
    context_decay: float = Field(
        0.8, ge=0.3, le=1.0, description="Weight factor per step back in the ridge's context."
    )
    horizon: int = Field(10, ge=1, le=50, description="Next events the sequential ridge predicts.")
    horizon_decay: float = Field(
        0.9, ge=0.3, le=1.0, description="Weight factor per step ahead in the ridge's targets."
    )
    transition_window: int = Field(
        10, ge=1, le=50, description="An item's next 1..this events count as its transitions."
    )
    transition_decay: float = Field(
        0.9, ge=0.3, le=1.0, description="Weight factor per step of distance in a transition."
    )
    transition_recent: int = Field(
        20, ge=1, le=100, description="Newest events whose transitions are followed."
    )
    transition_recency: float = Field(
        10.0, ge=0.5, le=100.0, description="Transitions of the k-th newest weigh exp(-k / this)."
    )
    session_gap: float = Field(
        120.0,
        ge=1.0,
        le=86_400.0,
        description="Seconds: events this close (and the user's events this close to the "
        "newest) form a sitting for the `session` signal.",
    )
    session_window: int = Field(
        50, ge=1, le=200, description="At most this many events apart to co-occur in a sitting."
    )
    prior_recent: float = Field(1.0, ge=0.0, le=5.0, description="Blend weight of `recent`.")
    prior_profile: float = Field(0.0, ge=0.0, le=5.0, description="Blend weight of `profile`.")
    prior_ridge: float = Field(0.5, ge=0.0, le=5.0, description="Blend weight of `ridge`.")
    prior_transitions: float = Field(
        0.55, ge=0.0, le=5.0, description="Blend weight of `transitions`."
    )
    prior_session: float = Field(0.3, ge=0.0, le=5.0, description="Blend weight of `session`.")
    candidates: int = Field(
        100, ge=10, le=500, description="Items per user (by the blend) the re-ranker orders."
    )
    stacking: bool = Field(
        True, description="Learn the re-ranker on a holdout of the training data."
    )
    holdout_fraction: float = Field(
        0.1, ge=0.02, le=0.5, description="Newest share of each user's events held out to stack."
    )
    stack_users: int = Field(
        5000, ge=10, description="At most this many users (a seeded sample) train the re-ranker."
    )
    stack_min_positives: int = Field(
        100, ge=1, description="Fewer held-out hits among the candidates: keep the fixed blend."
    )
    stack_l2: float = Field(1.0, ge=0.0, description="L2 penalty of the re-ranker's weights.")
    random_state: int = Field(0, ge=0, description="Seed of the stacking users' sample.")
    min_item_users: int = Field(
        2,
        ge=1,
        description="Only items with at least this many users get rows in the two dense "
        "matrices (the others still count through transitions and sittings).",
    )
    max_items: int = Field(
        20_000, ge=1, description="Refuse more dense items (two n_items^2 float32 matrices)."
    )


@dataclass
class Parts:
    """The fitted item-item signals: dense float32 over the `dense` items (d of them), CSR
    over all n items."""

    dense: np.ndarray  # ids of the items with rows in the dense matrices, ascending
    ease: np.ndarray  # d x d EASE B, zero diagonal
    ridge_inverse: np.ndarray  # d x d (C^T C + ridge_lambda I)^-1
    ridge_targets: sp.csr_matrix  # d x n C^T Y, so that W = ridge_inverse @ ridge_targets
    transitions: sp.csr_matrix  # row-normalised skip-gram transition counts
    session: sp.csr_matrix  # row-normalised same-sitting co-occurrence
    log_popularity: np.ndarray  # log(1 + distinct users) per item

    def dense_columns(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """`rows` (batch x n) restricted to the dense items' columns."""
        return rows if len(self.dense) == rows.shape[1] else rows[:, self.dense]


# --- fitting the signals -------------------------------------------------------------------


def _pairs(inter: Interactions, max_step: int, max_gap: float | None = None):
    """(earlier event, later event, step) for events 1..max_step apart in a user's sequence."""
    first, second, steps = [], [], []
    index = np.arange(len(inter))
    for step in range(1, max_step + 1):
        a, b = index[:-step], index[step:]
        ok = inter.user[a] == inter.user[b]
        if max_gap is not None:
            ok &= inter.timestamp[b] - inter.timestamp[a] <= max_gap
        if not ok.any():
            break
        first.append(a[ok])
        second.append(b[ok])
        steps.append(np.full(int(ok.sum()), step, np.int32))
    if not first:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32)
    return np.concatenate(first), np.concatenate(second), np.concatenate(steps)


def _row_normalised(counts: sp.csr_matrix) -> sp.csr_matrix:
    """counts / (row sum + 1), as float32 CSR."""
    totals = np.asarray(counts.sum(axis=1)).ravel() + 1.0
    return sp.csr_matrix(sp.diags(1.0 / totals) @ counts, dtype=np.float32)


def _item_pairs(inter: Interactions, first, second, values, symmetric: bool) -> sp.csr_matrix:
    """Item x item sums of `values` over event pairs (plus the transpose if `symmetric`)."""
    n = inter.n_items
    counts = sp.csr_matrix(
        (values, (inter.item[first], inter.item[second])), shape=(n, n), dtype=np.float64
    )
    counts.sum_duplicates()
    return counts + counts.T if symmetric else counts


def _sequence_ridge(
    inter: Interactions, cfg: Config, dense: np.ndarray
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Closed-form ridge from decayed last-`context_length` items to decayed next items.

    Row e of C holds the events before event e (weight context_decay^j for the (j+1)-th
    newest), row e of Y event e and the ones after it (horizon_decay^w); both only within
    the user's sequence; C keeps the `dense` items' columns only. Returns
    ((C^T C + lambda I)^-1, C^T Y)."""
    n, rows = inter.n_items, len(inter)
    ctx_src, ctx_dst, ctx_step = _pairs(inter, cfg.context_length)
    context = sp.csr_matrix(
        (cfg.context_decay ** (ctx_step - 1.0), (ctx_dst, inter.item[ctx_src])),
        shape=(rows, n),
    )
    if len(dense) < n:
        context = context[:, dense]
    tgt_src, tgt_dst, tgt_step = _pairs(inter, cfg.horizon - 1)
    every = np.arange(rows)
    target = sp.csr_matrix(
        (
            np.concatenate([np.ones(rows), cfg.horizon_decay**tgt_step]),
            (np.concatenate([every, tgt_src]), inter.item[np.concatenate([every, tgt_dst])]),
        ),
        shape=(rows, n),
    )
    dtype = np.float64 if len(dense) <= FLOAT64_MAX_ITEMS else np.float32
    gram = (context.T @ context).toarray().astype(dtype, copy=False)
    gram[np.diag_indices_from(gram)] += cfg.ridge_lambda
    inverse = spd_inverse(gram).astype(np.float32, copy=False)
    targets = sp.csr_matrix(context.T @ target, dtype=np.float32)
    targets.eliminate_zeros()
    return inverse, targets


def check_size(n_dense: int, cfg: Config) -> None:
    """Refuse, before allocating, more dense items than `max_items`."""
    if n_dense > cfg.max_items:
        gb = 2 * n_dense**2 * 4 / 1e9
        raise ValueError(
            f"tailor-sequence keeps two dense matrices over the items with at least "
            f"{cfg.min_item_users} user(s): {n_dense:,} items would take {gb:.1f} GB in "
            f"float32; the limit (max_items) is {cfg.max_items:,}. Raise min_item_users, or "
            "use tailor-item-knn or tailor-als."
        )


def fit_parts(inter: Interactions, cfg: Config) -> Parts:
    """All five signals from one set of events."""
    matrix = inter.matrix(binary=True)
    users_per_item = matrix.getnnz(axis=0)
    dense = np.flatnonzero(users_per_item >= cfg.min_item_users)
    check_size(len(dense), cfg)
    if len(dense) < inter.n_items:
        matrix = matrix[:, dense]
    dtype = np.float64 if len(dense) <= FLOAT64_MAX_ITEMS else np.float32
    gram = (matrix.T @ matrix).toarray().astype(dtype, copy=False)
    ease = ease_weights(gram, cfg.ease_lambda)
    del gram, matrix
    inverse, targets = _sequence_ridge(inter, cfg, dense)
    first, second, step = _pairs(inter, cfg.transition_window)
    transitions = _item_pairs(
        inter, first, second, cfg.transition_decay ** (step - 1.0), symmetric=False
    )
    first, second, _ = _pairs(inter, cfg.session_window, max_gap=cfg.session_gap)
    session = _item_pairs(inter, first, second, np.ones(len(first)), symmetric=True)
    return Parts(
        dense=dense,
        ease=ease,
        ridge_inverse=inverse,
        ridge_targets=targets,
        transitions=_row_normalised(transitions),
        session=_row_normalised(session),
        log_popularity=np.log1p(users_per_item).astype(np.float32),
    )


# --- scoring from a history ----------------------------------------------------------------


@dataclass
class Encoded:
    """A batch's known history events, flattened: row, item, position from the newest (0 =
    newest) and seconds before the row's newest event (None without timestamps)."""

    rows: np.ndarray
    items: np.ndarray
    position: np.ndarray
    age: np.ndarray | None
    lengths: np.ndarray  # known events per row

    def matrix(
        self, values: np.ndarray, keep: np.ndarray, shape: tuple[int, int], binary: bool = False
    ) -> sp.csr_matrix:
        """Batch x items: the summed `values` of the events where `keep` (or 1 if `binary`)."""
        m = sp.csr_matrix(
            (values[keep], (self.rows[keep], self.items[keep])), shape=shape, dtype=np.float32
        )
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m


def encode(history: History, n_items: int) -> Encoded:
    """Flatten a batch's history, dropping items the model does not know."""
    items = [np.asarray(x) for x in history.items]
    known = [(x >= 0) & (x < n_items) for x in items]
    lengths = np.array([int(k.sum()) for k in known], np.int64)
    rows = np.repeat(np.arange(len(items)), lengths)
    flat = np.concatenate([x[k] for x, k in zip(items, known, strict=True)] or [np.zeros(0)])
    ends = np.cumsum(lengths)
    position = np.repeat(ends, lengths) - 1 - np.arange(len(flat))
    age = None
    if history.timestamps is not None:
        times = np.concatenate(
            [np.asarray(t)[k] for t, k in zip(history.timestamps, known, strict=True)]
            or [np.zeros(0)]
        ).astype(np.float64)
        newest = times[np.maximum(ends - 1, 0)] if len(times) else np.zeros(len(items))
        age = np.repeat(newest, lengths) - times
    return Encoded(rows, flat.astype(np.int64), position, age, lengths)


def signal_scores(parts: Parts, enc: Encoded, cfg: Config) -> np.ndarray:
    """The five signals (5 x batch x n_items, float32), each scaled to a row maximum of 1."""
    shape = (len(enc.lengths), len(parts.log_popularity))
    everything = np.ones(len(enc.items), bool)
    pos = enc.position.astype(np.float64)
    recent = enc.matrix(np.exp(-pos / cfg.recency_decay), everything, shape)
    profile = enc.matrix(np.ones(len(pos)), everything, shape, binary=True)
    context = enc.matrix(cfg.context_decay**pos, pos < cfg.context_length, shape)
    last = enc.matrix(np.exp(-pos / cfg.transition_recency), pos < cfg.transition_recent, shape)
    if enc.age is None:
        sitting = pos < cfg.transition_recent
    else:
        sitting = (enc.age <= cfg.session_gap) & (pos < cfg.session_window)
    sitting = enc.matrix(np.ones(len(pos)), sitting, shape, binary=True)
    out = np.zeros((len(SIGNALS), *shape), np.float32)
    all_dense = len(parts.dense) == shape[1]
    for k, rows in enumerate((recent, profile)):
        scores = parts.dense_columns(rows) @ parts.ease
        if all_dense:
            out[k] = scores
        else:
            out[k][:, parts.dense] = scores
    ridge = parts.dense_columns(context) @ parts.ridge_inverse
    out[2] = np.asarray(ridge @ parts.ridge_targets)
    out[3] = (last @ parts.transitions).toarray()
    out[4] = (sitting @ parts.session).toarray()
    scale = np.abs(out).max(axis=2, keepdims=True)
    out /= np.where(scale > 0, scale, 1.0)
    return out


def features(signals: np.ndarray, lengths: np.ndarray, log_pop: np.ndarray) -> list:
    """The re-ranker's inputs as (batch x n_items or broadcastable) arrays: each signal, each
    signal x log(history length), log popularity, its product with log length, log length."""
    log_len = np.log(np.maximum(lengths, 1)).astype(np.float32)[:, None]
    pop = log_pop[None, :]
    return [*signals, *(s * log_len for s in signals), pop, pop * log_len, log_len]


N_FEATURES = 2 * len(SIGNALS) + 3


def candidate_mask(prior: np.ndarray, enc: Encoded, n: int) -> np.ndarray:
    """The `n` best unseen items of each row by the fixed blend, plus the seen items."""
    seen = np.zeros(prior.shape, bool)
    seen[enc.rows, enc.items] = True
    masked = np.where(seen, -np.inf, prior)
    n = min(n, prior.shape[1])
    top = np.argpartition(-masked, n - 1, axis=1)[:, :n]
    mask = seen.copy()
    np.put_along_axis(mask, top, True, axis=1)
    return mask


# --- the re-ranker -------------------------------------------------------------------------


def holdout_mask(inter: Interactions, fraction: float) -> np.ndarray:
    """True for each user's newest max(1, round(fraction * n)) events (users with >= 2 events;
    at least one event of each user stays)."""
    counts = np.bincount(inter.user, minlength=inter.n_users)
    held = np.maximum(1, np.rint(fraction * counts)).astype(np.int64)
    held = np.where(counts >= 2, np.minimum(held, counts - 1), 0)
    ends = np.cumsum(counts)
    from_end = ends[inter.user] - np.arange(len(inter))  # 1 for a user's newest event
    return from_end <= held[inter.user]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """L2-penalised logistic regression on standardised columns (L-BFGS); returns the
    weights in the original units with the intercept last."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    z = (x - mean) / std
    target = y.astype(np.float64)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        logit = z @ w[:-1] + w[-1]
        value = np.logaddexp(0.0, logit).sum() - target @ logit + 0.5 * l2 * w[:-1] @ w[:-1]
        residual = scipy.special.expit(logit) - target
        grad = np.append(z.T @ residual + l2 * w[:-1], residual.sum())
        return float(value), grad

    w0 = np.zeros(x.shape[1] + 1)
    w = scipy.optimize.minimize(loss, w0, jac=True, method="L-BFGS-B").x
    coef = w[:-1] / std
    return np.append(coef, w[-1] - coef @ mean)


def stacking_rows(
    parts: Parts, inter: Interactions, held: np.ndarray, users: np.ndarray, cfg: Config
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (held-out or not) of the users' unseen candidates."""
    truth = sp.csr_matrix(
        (np.ones(int(held.sum()), bool), (inter.user[held], inter.item[held])),
        shape=(inter.n_users, inter.n_items),
    )
    kept = inter.select(~held)
    prior_w = prior_weights(cfg)
    xs, ys = [], []
    for start in range(0, len(users), BATCH):
        chunk = users[start : start + BATCH]
        enc = encode(kept.history(chunk), inter.n_items)
        signals = signal_scores(parts, enc, cfg)
        mask = candidate_mask(np.tensordot(prior_w, signals, 1), enc, cfg.candidates)
        mask[enc.rows, enc.items] = False  # seen items are never recommended
        rows, cols = np.nonzero(mask)
        columns = features(signals, enc.lengths, parts.log_popularity)
        xs.append(np.stack([np.broadcast_to(f, mask.shape)[rows, cols] for f in columns], 1))
        ys.append(truth[chunk[rows], cols].A1)
    return np.concatenate(xs), np.concatenate(ys)


def prior_weights(cfg: Config) -> np.ndarray:
    """The fixed blend's weight per signal (in SIGNALS order)."""
    return np.array(
        [
            cfg.prior_recent,
            cfg.prior_profile,
            cfg.prior_ridge,
            cfg.prior_transitions,
            cfg.prior_session,
        ],
        np.float32,
    )


# --- the recipe ----------------------------------------------------------------------------


class SequenceAware(Recipe):
    """Next items from the order and timing of the history: EASE on recency-weighted history,
    a sequential ridge, skip-gram transitions and same-sitting co-occurrence, re-ranked by a
    model stacked on the newest events of the training data."""

    recipe_arn = "arn:aws:personalize:::recipe/tailor-sequence"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "Sequence-aware next-items model: recency-weighted EASE, a sequential ridge, item "
        "transitions and same-session co-occurrence, blended by a re-ranker learned on each "
        "user's newest events. New events change the answer without retraining."
    )
    Config = Config

    def fit(self, data: TrainingData, progress: ProgressFn | None = None) -> SequenceAware:
        cfg = self.config
        inter = data.interactions
        self.n_users, self.n_items = inter.n_users, inter.n_items
        # one weight per `features` column, then the intercept; without stacking: the blend
        self.coef = np.zeros(N_FEATURES + 1)
        self.coef[: len(SIGNALS)] = prior_weights(cfg)
        if cfg.stacking:
            stacked = self._stack(inter, progress)
            if stacked is not None:
                self.coef = stacked
        self.parts = fit_parts(inter, cfg)
        if progress:
            progress(1.0, "fitted the sequence signals on all events")
        return self

    def _stack(self, inter: Interactions, progress: ProgressFn | None) -> np.ndarray | None:
        """Re-ranker weights learned on a holdout of each user's newest events (None when too
        few held-out events are among the candidates)."""
        cfg = self.config
        held = holdout_mask(inter, cfg.holdout_fraction)
        users = np.unique(inter.user[held])
        if len(users) == 0:
            return None
        rng = np.random.default_rng(cfg.random_state)
        if len(users) > cfg.stack_users:
            users = np.sort(rng.choice(users, cfg.stack_users, replace=False))
        parts = fit_parts(inter.select(~held), cfg)
        if progress:
            progress(0.4, "fitted the sequence signals on the stacking split")
        x, y = stacking_rows(parts, inter, held, users, cfg)
        del parts
        if y.sum() < cfg.stack_min_positives:
            return None
        coef = fit_logistic(x, y, cfg.stack_l2)
        if progress:
            progress(0.5, f"fitted the re-ranker on {len(y):,} candidates of {len(users)} users")
        return coef

    def score_all(
        self, users: np.ndarray, history: History, context: dict[str, str] | None = None
    ) -> np.ndarray:
        enc = encode(history, self.n_items)
        signals = signal_scores(self.parts, enc, self.config)
        prior = np.tensordot(prior_weights(self.config), signals, 1)
        logit = np.full(prior.shape, self.coef[-1], np.float32)
        for weight, column in zip(
            self.coef[:-1], features(signals, enc.lengths, self.parts.log_popularity), strict=True
        ):
            logit += np.float32(weight) * column
        mask = candidate_mask(prior, enc, self.config.candidates)
        floor = np.where(mask, logit, np.inf).min(axis=1, keepdims=True)
        top_other = np.where(mask, -np.inf, prior).max(axis=1, keepdims=True)
        top_other = np.where(np.isfinite(top_other), top_other, 0.0)
        scores = np.where(mask, logit, floor - 1.0 + prior - top_other).astype(np.float32)
        cold = enc.lengths == 0
        if cold.any():  # nothing known about the user: the popular list
            scores[cold] = self.parts.log_popularity
        return scores

    def similar_scores(self, items: np.ndarray) -> np.ndarray:
        """EASE row + transitions + same-sitting co-occurrence of each item, each scaled to a
        maximum of 1; unknown items get the popular list."""
        items = np.asarray(items)
        scores = np.tile(self.parts.log_popularity, (len(items), 1))
        known = (items >= 0) & (items < self.n_items)
        if known.any():
            ids = items[known]
            ease = np.zeros((len(ids), self.n_items), np.float32)
            where = np.searchsorted(self.parts.dense, ids)
            is_dense = self.parts.dense[np.minimum(where, len(self.parts.dense) - 1)] == ids
            ease[np.ix_(is_dense, self.parts.dense)] = self.parts.ease[where[is_dense]]
            parts = [
                ease,
                self.parts.transitions[ids].toarray(),
                self.parts.session[ids].toarray(),
            ]
            total = np.zeros((len(ids), self.n_items), np.float32)
            for part in parts:
                scale = np.abs(part).max(axis=1, keepdims=True)
                total += part / np.where(scale > 0, scale, 1.0)
            scores[known] = total
        return scores

    def state(self) -> dict[str, np.ndarray]:
        out = {
            "dense": self.parts.dense,
            "ease": self.parts.ease,
            "ridge_inverse": self.parts.ridge_inverse,
            "log_popularity": self.parts.log_popularity,
            "coef": self.coef,
        }
        for name in SPARSE_PARTS:
            out.update(sparse_state(name, getattr(self.parts, name)))
        return out

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        n, d = self.n_items, len(arrays["dense"])
        shapes = {"ridge_targets": (d, n), "transitions": (n, n), "session": (n, n)}
        sparse = {name: sparse_from_state(arrays, name, shapes[name]) for name in SPARSE_PARTS}
        self.parts = Parts(
            dense=arrays["dense"],
            ease=arrays["ease"],
            ridge_inverse=arrays["ridge_inverse"],
            log_popularity=arrays["log_popularity"],
            **sparse,
        )
        self.coef = arrays["coef"]

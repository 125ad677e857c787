"""The ground-truth engagement model: what the world's users really prefer.

One impression's propensity is z = u + e, with a deterministic utility

    u = interest_weight * interests[user, topic(item)] + quality_weight * quality(item)
        + follow_weight * follows(user, creator) + same_country_weight * same_country + bias

and logistic noise e ~ Logistic(0, noise_scale). The watched fraction is sigmoid(watch_slope
* z); watching under `skip_watch_s` seconds is a skip, at least `complete_fraction` a
completion. Only if not skipped, each action fires independently with probability
cap * sigmoid(slope * (z - threshold)). The generator draws from exactly these functions and
the oracle (`oracle.py`) integrates them over e, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ActionCurve", "TruthModel", "expected_grade", "sigmoid", "thresholds", "utility"]


@dataclass(frozen=True)
class ActionCurve:
    """P(action | z, not skipped) = cap * sigmoid(slope * (z - threshold))."""

    cap: float
    threshold: float
    slope: float = 1.0

    def prob(self, z: np.ndarray) -> np.ndarray:
        return self.cap * sigmoid(self.slope * (z - self.threshold))

    def prob_below(self, z: np.ndarray) -> np.ndarray:
        """The mirrored curve, for actions that fire when propensity is low."""
        return self.cap * sigmoid(self.slope * (self.threshold - z))


@dataclass(frozen=True)
class TruthModel:
    """Parameters of the ground-truth model (written to truth/model.json)."""

    interest_weight: float = 6.0
    quality_weight: float = 0.7
    follow_weight: float = 0.8
    same_country_weight: float = 0.3
    bias: float = -0.9
    noise_scale: float = 0.6
    watch_slope: float = 2.5
    skip_watch_s: float = 2.0
    complete_fraction: float = 0.95
    # Calibrated on the logged impressions to roughly 35% skips, 19% completions, 6% likes,
    # 1% comments and shares.
    like: ActionCurve = field(default_factory=lambda: ActionCurve(0.60, 2.2, 2.0))
    comment: ActionCurve = field(default_factory=lambda: ActionCurve(0.20, 3.0, 2.0))
    share: ActionCurve = field(default_factory=lambda: ActionCurve(0.25, 3.2, 2.0))
    remix: ActionCurve = field(default_factory=lambda: ActionCurve(0.08, 3.4, 2.0))
    follow: ActionCurve = field(default_factory=lambda: ActionCurve(0.12, 2.8, 2.0))
    not_interested: ActionCurve = field(default_factory=lambda: ActionCurve(0.12, -1.5, 1.0))
    report_rate: tuple[float, float, float] = (0.0005, 0.005, 0.08)  # safe, sensitive, unsafe

    def to_json(self, topics: tuple[str, ...]) -> str:
        """The parameters, topic names and a plain description of the formula."""
        body = {"format": 1, "parameters": asdict(self), "topics": list(topics),
                "description": _DESCRIPTION}
        return json.dumps(body, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, path: Path) -> TruthModel:
        """Read the parameters a world was generated with."""
        params = dict(json.loads(Path(path).read_text())["parameters"])
        for name in ("like", "comment", "share", "remix", "follow", "not_interested"):
            params[name] = ActionCurve(**params[name])
        params["report_rate"] = tuple(params["report_rate"])
        return cls(**params)


_DESCRIPTION = (
    "utility u = interest_weight*interests[user][topic] + quality_weight*quality "
    "+ follow_weight*[user follows creator] + same_country_weight*[user and creator share a "
    "home country] + bias. Per impression z = u + e, e ~ Logistic(0, noise_scale). Watched "
    "fraction f = sigmoid(watch_slope*z); skip if f*duration_s < skip_watch_s; complete if "
    "f >= complete_fraction. If not skipped, like/comment/share/remix/follow each fire "
    "independently with p = cap*sigmoid(slope*(z - threshold)) (follow only if not yet "
    "following). not_interested fires with p = cap*sigmoid(slope*(threshold - z)) on any "
    "impression; report with "
    "p = report_rate[safety]*2*sigmoid(-z). Graded relevance: skip=0, view=1, complete=2, "
    "like or comment=3, share or remix=4 (the highest that applies); the oracle returns its "
    "expectation over e."
)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def utility(model: TruthModel, interest: np.ndarray, quality: np.ndarray,
            follows: np.ndarray, same_country: np.ndarray) -> np.ndarray:
    """Deterministic part of the propensity, float64."""
    return (model.interest_weight * interest.astype(np.float64)
            + model.quality_weight * quality.astype(np.float64)
            + model.follow_weight * follows.astype(np.float64)
            + model.same_country_weight * same_country.astype(np.float64)
            + model.bias)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def thresholds(model: TruthModel, duration_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Propensities below which an impression is a skip, and above which it completes."""
    skip_fraction = np.clip(model.skip_watch_s / duration_s.astype(np.float64), 1e-9, 1 - 1e-9)
    z_skip = _logit(skip_fraction) / model.watch_slope
    z_complete = np.full_like(z_skip, _logit(np.float64(model.complete_fraction))
                              / model.watch_slope)
    return z_skip, np.maximum(z_complete, z_skip)


def _grade_given_z(model: TruthModel, z: np.ndarray, watched: float) -> np.ndarray:
    """E[grade | z, not skipped], with `watched` the grade without actions (1 or 2)."""
    p4 = 1 - (1 - model.share.prob(z)) * (1 - model.remix.prob(z))
    p3 = 1 - (1 - model.like.prob(z)) * (1 - model.comment.prob(z))
    return 4 * p4 + 3 * (1 - p4) * p3 + watched * (1 - p4) * (1 - p3)


def expected_grade(model: TruthModel, u: np.ndarray, duration_s: np.ndarray,
                   nodes: int = 24) -> np.ndarray:
    """E[grade] for each utility, integrating the logistic noise without sampling.

    The skip and completion cut points split the noise into three regions whose masses are
    exact (logistic CDF); inside each, `nodes` midpoints in probability space integrate the
    smooth action curves.
    """
    u = np.asarray(u, dtype=np.float64)
    z_skip, z_complete = thresholds(model, np.asarray(duration_s))
    s = model.noise_scale
    f_skip = sigmoid((z_skip - u) / s)
    f_complete = sigmoid((z_complete - u) / s)
    mids = (np.arange(nodes) + 0.5) / nodes
    total = np.zeros_like(u)
    for lo, hi, watched in ((f_skip, f_complete, 1.0), (f_complete, np.ones_like(u), 2.0)):
        mass = hi - lo
        q = np.clip(lo[:, None] + mass[:, None] * mids[None, :], 1e-12, 1 - 1e-12)
        z = u[:, None] + s * _logit(q)
        total += mass * _grade_given_z(model, z, watched).mean(axis=1)
    return total

"""Experiments as data: an A/B test of variants or a team-draft interleaving of two, with
traffic shares and a start and an end, and the deterministic assignment of users to them.

A variant is a name, a share of traffic and settings overrides: the knobs of ranking only
(`OVERRIDABLE`), never the policy (consent, ratings, scroll limits, reports), which every
variant applies unchanged. Optionally `ranker`, a trained ranker directory to serve instead
of the snapshot's. Assignment hashes (salt, experiment, user) with SHA-256 into [0, 1) and
walks the cumulative shares: the same user always lands in the same variant, independently
across experiments, and shares that sum below 1 leave the rest of the traffic out. Supervised
accounts are never enrolled. An interleaving experiment has exactly two variants ("teams")
and enrols its share of users into one merged page; its variants' own shares do not matter.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reelrank.errors import ReelrankError
from reelrank.settings import Settings

__all__ = ["KINDS", "OVERRIDABLE", "Experiment", "Variant", "bucket", "parse_experiment",
           "variants_from_json", "variants_json"]

KINDS = ("ab", "interleave")
# The knobs of ranking a variant may change; nothing of the policy.
OVERRIDABLE = frozenset({
    "candidates_per_source", "graph_recent_days", "fresh_max_age_hours",
    "fresh_max_impressions", "fresh_per_user", "fresh_explore_share", "per_creator_cap",
    "mmr_lambda", "exploration_every", "selection_pool_factor", "scorer", "ranker_backend",
    "session_pull_per_like", "session_pull_max", "session_weight_like",
    "session_weight_complete", "session_weight_share", "session_boost", "session_liked_max",
    "session_similar_k", "chat_interest_weight", "learned_candidates",
})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Variant:
    name: str
    share: float
    overrides: Mapping[str, object] = field(default_factory=dict)
    ranker: str | None = None  # a trained ranker directory; None: the snapshot's

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "share": self.share, "overrides": dict(self.overrides),
                "ranker": self.ranker}


@dataclass(frozen=True)
class Experiment:
    name: str
    kind: str
    variants: tuple[Variant, ...]
    salt: str
    starts_at: str          # control-store stamps: text order is time order
    ends_at: str | None = None
    stopped_at: str | None = None
    created_at: str = ""
    share: float = 1.0      # interleave: the traffic share merged; ab: sum of the variants'

    def running(self, now: str) -> bool:
        return (self.starts_at <= now and (self.ends_at is None or now < self.ends_at)
                and self.stopped_at is None)

    def status(self, now: str) -> str:
        if self.stopped_at is not None:
            return "stopped"
        if now < self.starts_at:
            return "scheduled"
        return "running" if self.ends_at is None or now < self.ends_at else "ended"

    def assign(self, user_id: object) -> str | None:
        """The variant (ab) or "interleaved" (interleave) of `user_id`, None: not enrolled
        (supervised accounts are the caller's to leave out)."""
        point = bucket(self.salt, self.name, user_id)
        if self.kind == "interleave":
            return "interleaved" if point < self.share else None
        edge = 0.0
        for v in self.variants:
            edge += v.share
            if point < edge:
                return v.name
        return None

    def as_json(self, now: str | None = None) -> dict[str, object]:
        out = {"name": self.name, "kind": self.kind, "salt": self.salt,
               "variants": [v.as_json() for v in self.variants], "share": self.share,
               "starts_at": self.starts_at, "ends_at": self.ends_at,
               "stopped_at": self.stopped_at, "created_at": self.created_at}
        if now is not None:
            out["status"] = self.status(now)
        return out


def bucket(salt: str, name: str, user_id: object) -> float:
    """A uniform point in [0, 1) for (salt, experiment, user): 60 bits of SHA-256."""
    digest = hashlib.sha256(f"{salt}\x1f{name}\x1f{user_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 4) / float(1 << 60)


def parse_experiment(name: str, kind: str, variants: Sequence[Mapping[str, object]], *,
                     salt: str, starts_at: str, ends_at: str | None = None,
                     share: float | None = None, settings: Settings | None = None
                     ) -> Experiment:
    """A validated experiment, or `ReelrankError` naming the field that is wrong."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ReelrankError(f"experiment name {name!r}: 1-64 letters, digits, '_', '.', '-'")
    if kind not in KINDS:
        raise ReelrankError(f"experiment {name}: kind must be one of {KINDS}, got {kind!r}")
    if not variants:
        raise ReelrankError(f"experiment {name}: no variants")
    if kind == "interleave" and len(variants) != 2:
        raise ReelrankError(f"experiment {name}: interleaving compares exactly 2 variants, "
                            f"got {len(variants)}")
    if ends_at is not None and ends_at <= starts_at:
        raise ReelrankError(f"experiment {name}: ends_at {ends_at} is not after starts_at "
                            f"{starts_at}")
    base = settings or Settings()
    parsed, seen = [], set()
    for n, raw in enumerate(variants):
        vname = raw.get("name")
        where = f"experiment {name}, variant {n + 1}"
        if not isinstance(vname, str) or not _NAME.match(vname):
            raise ReelrankError(f"{where}: name {vname!r} is not a valid name")
        if vname in seen:
            raise ReelrankError(f"{where}: name {vname!r} used twice")
        seen.add(vname)
        vshare = raw.get("share", 1.0 / len(variants) if kind == "ab" else 0.5)
        if isinstance(vshare, bool) or not isinstance(vshare, int | float) \
                or not 0.0 < float(vshare) <= 1.0:
            raise ReelrankError(f"{where} ({vname}): share must be in (0, 1], got {vshare!r}")
        overrides = raw.get("overrides") or {}
        if not isinstance(overrides, Mapping):
            raise ReelrankError(f"{where} ({vname}): overrides must be an object")
        bad = sorted(set(overrides) - OVERRIDABLE)
        if bad:
            raise ReelrankError(f"{where} ({vname}): {bad} cannot be overridden (only the "
                                f"ranking settings: {sorted(OVERRIDABLE)})")
        try:
            type(base).model_validate({**base.model_dump(), **overrides})
        except ValueError as exc:
            errors = getattr(exc, "errors", list)()
            said = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
            raise ReelrankError(f"{where} ({vname}): overrides invalid: {said or exc}") \
                from exc
        ranker = raw.get("ranker")
        if ranker is not None and (not isinstance(ranker, str)
                                   or not (Path(ranker) / "model.txt").is_file()):
            raise ReelrankError(f"{where} ({vname}): ranker must be a trained ranker's "
                                f"directory (with model.txt), got {ranker!r}")
        parsed.append(Variant(vname, float(vshare), dict(overrides), ranker))
    total = sum(v.share for v in parsed)
    if kind == "ab" and total > 1.0 + 1e-9:
        raise ReelrankError(f"experiment {name}: variant shares sum to {total:g} > 1")
    merged = float(share) if share is not None else (1.0 if kind == "interleave" else total)
    if not 0.0 < merged <= 1.0:
        raise ReelrankError(f"experiment {name}: share must be in (0, 1], got {share!r}")
    return Experiment(name, kind, tuple(parsed), salt, starts_at, ends_at, share=merged)


def variants_json(experiment: Experiment) -> str:
    return json.dumps([v.as_json() for v in experiment.variants], sort_keys=True)


def variants_from_json(text: str) -> tuple[Variant, ...]:
    return tuple(Variant(v["name"], float(v["share"]), v.get("overrides") or {},
                         v.get("ranker")) for v in json.loads(text))


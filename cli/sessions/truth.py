"""The world's hidden ground truth, read back from its files, as the inputs of its own model.

A simulated person decides what to do with an impression exactly as the world's log was
drawn: `reelrank.simulate.engagement.draw_outcomes` on the truth model's inputs (interest in
the item's topic, quality, follows, same country, duration, safety), gathered here from
`truth/` and the app-facing tables the same way the oracle gathers them. Nothing here
changes the model; the oracle's expectation (`expected_grade`) is offered beside the draw
so a report can say how good a served item was without the noise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from reelrank.errors import ReelrankError
from reelrank.simulate.catalog import SAFETY_LABELS
from reelrank.simulate.engagement import draw_outcomes
from reelrank.simulate.geo import COUNTRIES
from reelrank.simulate.policy import contains
from reelrank.simulate.truth import TruthModel, expected_grade, utility

__all__ = ["TruthWorld", "find_world"]


def find_world(worlds_dir: Path, world: Path | None) -> Path:
    """`world` if given, else the one synthetic world (with `truth/`) under `worlds_dir`."""
    if world is not None:
        if not (Path(world) / "truth" / "model.json").is_file():
            raise ReelrankError(f"{world} is not a synthetic world with ground truth "
                                "(no truth/model.json)")
        return Path(world)
    found = sorted(p for p in worlds_dir.iterdir() if (p / "truth" / "model.json").is_file()) \
        if worlds_dir.is_dir() else []
    if len(found) != 1:
        raise ReelrankError(
            f"{worlds_dir} holds {len(found)} synthetic worlds with ground truth; the session "
            "simulator plays a world's own users, so name one with --world"
            if found else f"{worlds_dir} holds no synthetic world: the session simulator "
            "needs one (`reelrank run` on an empty home generates it)")
    return found[0]


@dataclass(frozen=True)
class TruthWorld:
    """Per-user and per-item truth columns by position; ids map to positions."""

    directory: Path
    model: TruthModel
    start: date                 # the world's first day
    days: int
    user_ids: tuple[object, ...]
    user_index: dict[object, int]
    item_index: dict[object, int]
    interests: np.ndarray       # float32 (users, topics)
    activity: np.ndarray        # float32 per user
    country: np.ndarray         # int64 per user (any coding: only equality is used)
    utc_offset_h: np.ndarray    # float64 per user: their home country's offset from UTC
    item_topic: np.ndarray      # int64
    item_quality: np.ndarray    # float32
    item_creator: np.ndarray    # int64 user position, -1 if the creator is not a world user
    item_duration: np.ndarray   # float32 seconds
    item_safety: np.ndarray     # int64 index into SAFETY_LABELS
    follow_keys: np.ndarray     # sorted follower * users + followee, the final graph
    active: np.ndarray          # bool per user: any event in the world's log

    @property
    def end(self) -> date:
        """The day after the log's last day: the day a snapshot of the whole log is as of."""
        return self.start + timedelta(days=self.days)

    @classmethod
    def load(cls, directory: Path, active_ids: pl.Series | None = None) -> TruthWorld:
        """The world at `directory`. `active_ids`: the users with a history (returning
        users); by default those of its event log (`_active_ids`)."""
        directory = Path(directory)
        manifest = json.loads((directory / "world.json").read_text())
        truth_users = pl.read_parquet(directory / "truth" / "users.parquet")
        users = pl.read_parquet(directory / "users.parquet", columns=["user_id", "country"])
        user_ids = tuple(truth_users["user_id"].to_list())
        user_index = {u: n for n, u in enumerate(user_ids)}
        codes = {c: n for n, c in enumerate(sorted(set(users["country"].to_list())))}
        offsets = {c.code: float(c.utc_offset_h) for c in COUNTRIES}
        country = np.full(len(user_ids), -1, dtype=np.int64)
        utc_offset_h = np.zeros(len(user_ids), dtype=np.float64)
        for user, code in users.iter_rows():
            if user in user_index:
                country[user_index[user]] = codes[code]
                utc_offset_h[user_index[user]] = offsets.get(code, 0.0)
        items = (pl.read_parquet(directory / "truth" / "items.parquet")
                 .join(pl.read_parquet(directory / "items.parquet",
                                       columns=["item_id", "creator_id", "duration_s",
                                                "safety_label"]), on="item_id", how="inner"))
        follows = pl.read_parquet(directory / "follows.parquet",
                                  columns=["follower_id", "followee_id"])
        n = len(user_ids)
        follower = _positions(follows["follower_id"], user_index)
        followee = _positions(follows["followee_id"], user_index)
        known = (follower >= 0) & (followee >= 0)
        if active_ids is None:
            active_ids = _active_ids(directory)
        active = np.zeros(n, dtype=bool)
        active[_known(_positions(active_ids, user_index))] = True
        return cls(
            directory=directory, model=TruthModel.from_json(directory / "truth" / "model.json"),
            start=datetime.fromisoformat(manifest["start"]).astimezone(UTC).date(),
            days=int(manifest["days"]), user_ids=user_ids, user_index=user_index,
            item_index={i: n for n, i in enumerate(items["item_id"].to_list())},
            interests=_interest_matrix(truth_users),
            activity=truth_users["activity"].to_numpy().astype(np.float32),
            country=country, utc_offset_h=utc_offset_h,
            item_topic=items["topic"].to_numpy().astype(np.int64),
            item_quality=items["quality"].to_numpy().astype(np.float32),
            item_creator=_positions(items["creator_id"], user_index),
            item_duration=items["duration_s"].to_numpy().astype(np.float32),
            item_safety=np.array([SAFETY_LABELS.index(s) for s in items["safety_label"]],
                                 dtype=np.int64),
            follow_keys=np.unique(follower[known] * n + followee[known]),
            active=active,
        )

    def inputs(self, user: np.ndarray, item: np.ndarray) -> dict[str, np.ndarray]:
        """The truth model's inputs for impressions of world items `item` by `user`
        (positions), as `draw_outcomes` takes them."""
        creator = self.item_creator[item]
        known = creator >= 0
        safe_creator = np.where(known, creator, 0)
        n = len(self.user_ids)
        return {
            "interest": self.interests[user, self.item_topic[item]],
            "quality": self.item_quality[item],
            "follows": known & contains(self.follow_keys, user * n + safe_creator),
            "same_country": known & (self.country[user] == self.country[safe_creator]),
            "duration_s": self.item_duration[item],
            "safety": self.item_safety[item],
        }

    def draw(self, rng: np.random.Generator, user: np.ndarray, item: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """(watched microseconds, action matrix in EVENT_TYPES row order), drawn."""
        return draw_outcomes(rng, self.model, **self.inputs(user, item))

    def expected(self, user: np.ndarray, item: np.ndarray) -> np.ndarray:
        """The oracle's expected grade (skip 0 .. share/remix 4) of each impression."""
        x = self.inputs(user, item)
        u = utility(self.model, x["interest"], x["quality"], x["follows"], x["same_country"])
        return expected_grade(self.model, u, x["duration_s"])


def _positions(ids: pl.Series, index: dict[object, int]) -> np.ndarray:
    return np.array([index.get(i, -1) for i in ids.to_list()], dtype=np.int64)


def _known(positions: np.ndarray) -> np.ndarray:
    return positions[positions >= 0]


def _interest_matrix(truth_users: pl.DataFrame) -> np.ndarray:
    width = int(truth_users["interests"].list.len().max() or 1)
    flat = truth_users["interests"].explode().cast(pl.Float32).to_numpy()
    return flat.reshape(truth_users.height, width)


def _active_ids(directory: Path) -> pl.Series:
    """The users with any event in the world's log; once the log has moved out to be
    ingested (the default world's does: it carries IPs), the users the home's published
    snapshot has a history of (the world sits in HOME/worlds/)."""
    if any((directory / "events").glob("*.parquet")):
        return (pl.scan_parquet(directory / "events" / "*.parquet")
                .select("user_id").unique().collect()["user_id"])
    seen = directory.parent.parent / "snapshots" / "latest" / "seen.parquet"
    if not seen.is_file():
        raise ReelrankError(
            f"{directory} has no event log (it moved out to be ingested) and its home has "
            f"no published snapshot ({seen}) to tell returning users from new ones")
    return pl.read_parquet(seen, columns=["user_id"])["user_id"].unique()

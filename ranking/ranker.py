"""The ranker: LightGBM LambdaMART over point-in-time features, as a versioned artifact.

Training is deterministic for a seed (`deterministic=True`, forced row-wise histograms, one
seed for every random choice LightGBM makes). Missing values stay missing: LightGBM learns a
direction for NaN, which is how an absent signal (no chat interests, unknown region, a new
user) is handled without inventing a value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

from reelrank.errors import ReelrankError

__all__ = ["NON_FEATURES", "RankerParams", "TrainedRanker", "feature_names", "train_ranker"]

# Columns of a training frame that are identity or target, never features.
NON_FEATURES = frozenset({"as_of", "user_id", "item_id", "creator_id", "topic", "label"})
GROUP = ("user_id", "as_of")


@dataclass(frozen=True)
class RankerParams:
    num_leaves: int = 31
    learning_rate: float = 0.05
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.8
    max_rounds: int = 400
    early_stopping_rounds: int = 40
    eval_at: int = 10
    seed: int = 7
    threads: int = 2

    @classmethod
    def from_settings(cls, settings) -> RankerParams:
        """The nightly job's parameters: `ranker_*` settings, the engine's seed."""
        return cls(num_leaves=settings.ranker_num_leaves,
                   learning_rate=settings.ranker_learning_rate,
                   min_data_in_leaf=settings.ranker_min_data_in_leaf,
                   feature_fraction=settings.ranker_feature_fraction,
                   max_rounds=settings.ranker_max_rounds,
                   early_stopping_rounds=settings.ranker_early_stopping_rounds,
                   seed=settings.seed)

    def lightgbm(self) -> dict[str, object]:
        return {
            "objective": "lambdarank", "metric": "ndcg", "eval_at": [self.eval_at],
            "num_leaves": self.num_leaves, "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction, "seed": self.seed,
            "deterministic": True, "force_row_wise": True, "num_threads": self.threads,
            "verbosity": -1,
        }


@dataclass(frozen=True)
class TrainedRanker:
    booster: lgb.Booster
    features: tuple[str, ...]
    params: RankerParams
    metrics: dict[str, float] = field(default_factory=dict)

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ReelrankError(f"frame lacks ranker features: {', '.join(missing[:5])}")
        return self.predict(frame.select(self.features).cast(pl.Float64).to_numpy())

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Scores for rows of float64 features in `self.features` order."""
        return self.booster.predict(matrix, num_threads=self.params.threads)

    def save(self, directory: Path) -> Path:
        """Write model.txt and meta.json into `directory` (created); returns it."""
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / "model.txt"))
        meta = {"features": list(self.features), "params": asdict(self.params),
                "metrics": self.metrics}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: Path) -> TrainedRanker:
        try:
            meta = json.loads((directory / "meta.json").read_text())
            booster = lgb.Booster(model_file=str(directory / "model.txt"))
        except (OSError, ValueError, lgb.basic.LightGBMError) as exc:
            raise ReelrankError(f"{directory} does not hold a readable ranker ({exc})") from exc
        return cls(booster, tuple(meta["features"]), RankerParams(**meta["params"]),
                   meta.get("metrics", {}))


def feature_names(frame: pl.DataFrame) -> tuple[str, ...]:
    """Numeric and boolean columns that are not identity or target."""
    return tuple(c for c, t in frame.schema.items()
                 if c not in NON_FEATURES and (t.is_numeric() or t == pl.Boolean))


def _dataset(frame: pl.DataFrame, features: Sequence[str],
             reference: lgb.Dataset | None = None) -> lgb.Dataset:
    ordered = frame.sort(list(GROUP))
    groups = ordered.group_by(list(GROUP), maintain_order=True).len()["len"].to_numpy()
    matrix = ordered.select(features).cast(pl.Float64).to_numpy()
    return lgb.Dataset(matrix, label=ordered["label"].to_numpy(), group=groups,
                       feature_name=list(features), reference=reference, free_raw_data=False)


def train_ranker(train: pl.DataFrame, valid: pl.DataFrame, params: RankerParams,
                 features: Sequence[str] | None = None) -> TrainedRanker:
    """Fit on `train`, stop early on `valid` (both point-in-time frames with `label`)."""
    if train.is_empty() or valid.is_empty():
        raise ReelrankError("training needs rows in both the training and validation days")
    chosen = tuple(features or feature_names(train))
    train_set = _dataset(train, chosen)
    valid_set = _dataset(valid, chosen, reference=train_set)
    evals: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(
        params.lightgbm(), train_set, num_boost_round=params.max_rounds,
        valid_sets=[valid_set], valid_names=["valid"],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False),
                   lgb.record_evaluation(evals)])
    key = f"ndcg@{params.eval_at}"
    curve = evals.get("valid", {}).get(key, [])
    metrics = {"valid_" + key: float(max(curve)) if curve else float("nan"),
               "best_iteration": float(booster.best_iteration),
               "train_rows": float(train.height), "valid_rows": float(valid.height)}
    return TrainedRanker(booster, chosen, params, metrics)

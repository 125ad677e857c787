# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A ranker variant: one new feature, judged by reelrank's own evaluation
#
# The recipe for trying a feature: take the labelled rows the ranker trains on
# (`ranking.dataset.labelled_rows`), add a column, train with `ranking.ranker.train_ranker`
# on the same temporal split and parameters as `reelrank evaluate`, and compare NDCG@10 on
# the same test days, overall, by how active users are, and by how scores line up with
# what users did.
#
# The feature tried here is **topic share**: the share of the user's impressions in the
# last 28 days that were of this item's topic. The ranker already has both counts
# (`user_topic_impressions_28d`, `user_impressions_28d`), but a ratio of two columns is
# something trees only approximate.
#
# Run `make run` first (it writes the default data home, `.reelrank`), or point
# `REELRANK_HOME` at another home.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import display

from features.training import GRADES
from ranking.dataset import labelled_rows
from ranking.evaluate import K, evaluate
from ranking.metrics import ndcg_at_k
from ranking.ranker import train_ranker
from reelrank.home import DataHome, resolve_home

# Jupyter starts the kernel in notebooks/; `make run` writes the default home at the
# repository root (where dagster.yaml lives too).
if "REELRANK_HOME" not in os.environ and Path.cwd().name == "notebooks":
    os.chdir(Path.cwd().parent)
if not (resolve_home(None) / "warehouse.duckdb").is_file():
    raise FileNotFoundError(f"no data home at {resolve_home(None).resolve()}: run `make run` "
                            "first, or set REELRANK_HOME")
home = DataHome.open(None)
pl.Config.set_tbl_rows(20)
# The oracle (ground-truth relevance) is known when the home holds one synthetic world.
worlds = [p for p in home.dir("worlds").iterdir() if (p / "truth").is_dir()]
world = worlds[0] if len(worlds) == 1 else None
GROUP = ["user_id", "as_of"]
NEW_FEATURE = "user_topic_share_28d"

# %% [markdown]
# ## The current model, as `reelrank evaluate` measures it
#
# `evaluate` trains the ranker on the split's training days (early stopping on the
# validation days) and scores it and the baselines on the test days. The same connection
# then builds the labelled rows of that split, for the variant. (Evaluation writes user
# taste vectors it lacks, so it holds the warehouse's write lock: not during a run.)

# %%
with home.writing(timeout_s=60) as con:
    report = evaluate(con, home.settings, world=world, progress=print)
    split = report.split
    rows = labelled_rows(con, split.train[0], split.test[1], home.settings)
current = report.ranker
pl.DataFrame([{"model": name, **metrics} for name, metrics in report.models.items()])

# %% [markdown]
# ## The variant: one derived column, same split, same parameters

# %%
rows = rows.with_columns(
    (pl.col("user_topic_impressions_28d") / pl.col("user_impressions_28d"))
    .cast(pl.Float64).alias(NEW_FEATURE))


def days(span):
    return rows.filter(pl.col("as_of").is_between(span[0], span[1], closed="left"))


train, valid, test = days(split.train), days(split.valid), days(split.test)
variant = train_ranker(train, valid, current.params)   # features: every numeric column
assert set(variant.features) - set(current.features) == {NEW_FEATURE}
print(f"rows: train {train.height:,}, valid {valid.height:,}, test {test.height:,}; "
      f"{NEW_FEATURE} present on {test[NEW_FEATURE].is_not_null().mean():.0%} of test rows")

# %%
scored = test.with_columns(pl.Series("current", current.score(test)),
                           pl.Series("variant", variant.score(test)))


def ndcg(frame: pl.DataFrame, score: str) -> float:
    return ndcg_at_k(frame, K, group=GROUP, score=score, label="label")


# The current model scored here must be the one `evaluate` reported: same rows, same split.
assert np.isclose(ndcg(scored, "current"), report.models["ranker"][f"ndcg@{K}"])
comparison = {name: m[f"ndcg@{K}"] for name, m in report.models.items() if f"ndcg@{K}" in m}
comparison["ranker + topic share"] = ndcg(scored, "variant")
pl.DataFrame({"model": list(comparison), f"NDCG@{K}": list(comparison.values()),
              "valid NDCG@10": [current.metrics["valid_ndcg@10"] if n == "ranker" else
                                variant.metrics["valid_ndcg@10"] if n.startswith("ranker +")
                                else None for n in comparison]})

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
colors = ["#cc6677" if name.startswith("ranker +") else "#4477aa" for name in comparison]
ax.bar(list(comparison), list(comparison.values()), color=colors)
ax.set_ylabel(f"NDCG@{K} (test days)")
ax.set_ylim(min(comparison.values()) * 0.9, 1.0)
ax.tick_params(axis="x", labelrotation=20)
ax.set_title("The variant against the current ranker and the baselines")
plt.show()

# %% [markdown]
# ## Where it helps: NDCG by user activity
#
# Each (user, test day) bucketed by the user's impressions in the 28 days before that day
# (quartiles). An average gain can hide a loss for one kind of user: light users, whose
# features are mostly priors, or heavy ones, whom the current model already serves well.

# %%
QUARTILES = ("lightest", "light", "heavy", "heaviest")
activity = scored.select(*GROUP, "user_impressions_28d").unique(GROUP).with_columns(
    (pl.col("user_impressions_28d").fill_null(0).rank("ordinal") * 4 / (pl.len() + 1))
    .floor().cast(pl.Int32).alias("quartile"))
bucketed = scored.join(activity.drop("user_impressions_28d"), on=GROUP)
buckets = pl.DataFrame([
    {"activity": QUARTILES[quartile],
     "impressions_28d": f"{part['user_impressions_28d'].min():.0f}-"
                        f"{part['user_impressions_28d'].max():.0f}",
     "queries": part.select(GROUP).unique().height,
     "current": ndcg(part, "current"), "variant": ndcg(part, "variant")}
    for (quartile,), part in bucketed.sort("quartile").group_by("quartile", maintain_order=True)
])
display(buckets)

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
x = np.arange(buckets.height)
ax.bar(x - 0.2, buckets["current"], width=0.4, label="current", color="#4477aa")
ax.bar(x + 0.2, buckets["variant"], width=0.4, label="+ topic share", color="#cc6677")
ax.set_xticks(x, buckets["activity"].to_list())
ax.set_ylabel(f"NDCG@{K}")
ax.set_ylim(buckets.select(pl.min_horizontal("current", "variant")).min().item() * 0.9, 1.0)
ax.legend()
ax.set_title("NDCG by user activity (impressions in the last 28 days)")
plt.show()

# %% [markdown]
# ## Score calibration
#
# LambdaMART scores are only meant to order a user's items, not to be probabilities, but
# a useful score still rises with what users did. Test rows in score deciles, against the
# share that the user completed or better (the positives of `reelrank evaluate`).

# %%
positive = GRADES["complete"]
fig, ax = plt.subplots(figsize=(8, 3.5))
for name, color in (("current", "#4477aa"), ("variant", "#cc6677")):
    deciles = (scored.with_columns(
        (pl.col(name).rank("ordinal") * 10 / (pl.len() + 1)).floor().cast(pl.Int32)
        .alias("decile"))
        .group_by("decile").agg(pl.col(name).mean().alias("score"),
                                (pl.col("label") >= positive).mean().alias("positive share"))
        .sort("decile"))
    ax.plot(deciles["score"], deciles["positive share"], marker="o", color=color, label=name)
ax.set_xlabel("mean score in the decile")
ax.set_ylabel("share completed or better")
ax.legend()
ax.set_title("Score calibration on the test days")
plt.show()

# %% [markdown]
# ## Does the tree use it?

# %%
gain = dict(zip(variant.features, variant.booster.feature_importance("gain"), strict=True))
ranked = sorted(gain, key=gain.get, reverse=True)
print(f"{NEW_FEATURE}: gain rank {ranked.index(NEW_FEATURE) + 1} of {len(ranked)}")
pl.DataFrame({"feature": ranked[:10], "gain": [gain[f] for f in ranked[:10]]})

# %% [markdown]
# ## Promoting it
#
# A feature that wins here is added where both training and serving get it: the SQL in
# `ranking/dataset.py` (training and evaluation rows) and the serving feature assembler
# (`ranking/assembler.py`), so the nightly ranker learns it and `rank a user`
# computes it the same way. The nightly `ranker_not_worse` check then compares the new
# ranker with the current one before it is promoted.

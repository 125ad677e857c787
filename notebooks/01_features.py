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
# # The feature tables of a run
#
# What the nightly run computed: the serving feature tables in the warehouse
# (`features/snapshot.py`), how they are distributed, the most popular creators in each
# region, and how many people switched what off in the control store.
#
# Run `make run` first (it writes the default data home, `.reelrank`), or point
# `REELRANK_HOME` at another home.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import polars as pl

from features.snapshot import SNAPSHOT_TABLES
from reelrank.control.bulk import TABLES, read_rows
from reelrank.control.user_settings import chat_opted_in
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
con = home.warehouse(read_only=True)
control = home.control()
print(f"data home: {home.root}")

# %% [markdown]
# ## The tables
#
# One row per entity (or pair) with history, every feature as of the same day: the day
# after the newest rolled-up day of events.

# %%
tables = {name: con.sql(f"SELECT * FROM {table}").pl()   # table names, not values
          for name, table in SNAPSHOT_TABLES.items()}
pl.DataFrame({
    "feature set": list(tables),
    "table": list(SNAPSHOT_TABLES.values()),
    "rows": [t.height for t in tables.values()],
    "columns": [t.width for t in tables.values()],
    "as of": [str(t["as_of"].max()) for t in tables.values()],
})

# %% [markdown]
# ## Distributions
#
# Counts are heavy-tailed (a log axis shows them); rates are shrunk toward the population
# rate by `rate_prior_strength`, so an entity with few impressions sits near the prior
# rather than at 0 or 1.

# %%
shown = [("user", "user_impressions_28d", True), ("user", "user_completes_rate_28d", False),
         ("user", "user_days_since_last", False), ("item", "item_impressions_28d", True),
         ("item", "item_completes_rate_28d", False),
         ("creator", "creator_engagement_decayed", True)]
fig, axes = plt.subplots(2, 3, figsize=(12, 6))
for ax, (name, column, log) in zip(axes.flat, shown, strict=True):
    ax.hist(tables[name][column].drop_nulls().to_numpy(), bins=30, log=log)
    ax.set_title(column)
fig.tight_layout()
plt.show()

# %%
tables["user"].select("user_impressions_28d", "user_watch_s_28d", "user_completes_rate_28d",
                      "user_skips_rate_28d", "user_engagement_decayed").describe()

# %% [markdown]
# Missing values stay missing (the ranker learns a direction for NaN): the share of
# nulls per column says how often a signal is simply absent.

# %%
pl.DataFrame([
    {"feature set": name, "column": column, "null share": table[column].null_count()
     / max(table.height, 1)}
    for name, table in tables.items() for column in table.columns
]).filter(pl.col("null share") > 0).sort("null share", descending=True).head(15)

# %% [markdown]
# ## Where people are, and the top creators per region
#
# A user's home region is where most of their recent events came from (resolved from the
# IP at ingestion); regional popularity scores items per region with the same decay.

# %%
homes = tables["home_region"].group_by("home_region").len("users").sort(
    ["users", "home_region"], descending=[True, False])
fig, ax = plt.subplots(figsize=(10, 3))
top_regions = homes.head(12)
ax.bar(top_regions["home_region"].to_list(), top_regions["users"].to_list())
ax.set_ylabel("users")
ax.set_title("Users by home region (top 12)")
plt.show()

# %%
creators = (tables["regional_popularity"].lazy()
            .join(con.sql("SELECT item_id, creator_id FROM items").pl().lazy(), on="item_id")
            .group_by("region", "creator_id")
            .agg(pl.col("score").sum().alias("popularity"), pl.len().alias("items"))
            .sort(["region", "popularity", "creator_id"], descending=[False, True, False])
            .group_by("region", maintain_order=True).head(3)
            .collect())
creators.join(top_regions.head(5).select("home_region", "users"),
              left_on="region", right_on="home_region").sort(
    ["users", "region", "popularity"], descending=[True, False, True])

# %% [markdown]
# ## Opt-outs and guardian settings
#
# Chat-history interests are opt-in: no setting means off. A guardian can switch a
# supervised account's personalization off entirely, cap its daily scroll, and choose who
# may message it.

# %%
users = con.sql("SELECT count(*) FROM users").fetchall()[0][0]
opted_in = {str(u) for u in chat_opted_in(control)}
guardian_columns = dict.fromkeys(TABLES["guardians"], pl.String) | {
    "personalization": pl.Int64, "scroll_limit": pl.Int64, "scroll_override": pl.Int64}
supervised = pl.DataFrame(read_rows(control, "guardians"), schema=guardian_columns,
                          orient="row").select("child_id", "personalization", "scroll_limit",
                                               "dm_policy")
pl.DataFrame({
    "setting": ["users", "chat personalization on", "chat personalization off (or unset)",
                "supervised accounts", "... personalization off", "... with a scroll limit"],
    "count": [users, len(opted_in), users - len(opted_in), supervised.height,
              supervised.filter(pl.col("personalization") == 0).height,
              supervised.filter(pl.col("scroll_limit").is_not_null()).height],
})

# %%
supervised.group_by("dm_policy").len("accounts").sort("dm_policy")

# %% [markdown]
# Hard rule 3, seen from the data: chat-derived interests exist only for users who are
# opted in right now.

# %%
derived = {str(r[0]) for r in con.execute("SELECT DISTINCT user_id FROM chat_interests").fetchall()}
print(f"{len(derived)} users have chat-derived interests; "
      f"{len(derived - opted_in)} of them are not opted in")
assert derived <= opted_in

# %%
con.close()
control.close()

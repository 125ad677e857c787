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
# # One user's feed: what they see, why, and what the policy took out
#
# Loads the published serving snapshot and ranks one user with `Engine.rank`, the code
# path the nightly batch and the API both run, against the control store's live state.
# Nothing here writes the control store: the API's `FeedService.page` would also count
# the page against the user's daily allowance, so this notebook calls the engine directly
# and borrows the API's `reason_for` for the "why".
#
# Run `make run` first (it writes the default data home, `.reelrank`), or point
# `REELRANK_HOME` at another home. Set `USER_ID` to look at someone in particular.

# %%
USER_ID = None   # None: the first active user whose candidates the consent check touched

# %%
import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import display

from api.feed import reason_for
from ranking.engine import Engine
from ranking.filters.consent import lacking_consent
from ranking.pipeline import FEED
from ranking.policy import read_live
from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome, resolve_home

# Jupyter starts the kernel in notebooks/; `make run` writes the default home at the
# repository root (where dagster.yaml lives too).
if "REELRANK_HOME" not in os.environ and Path.cwd().name == "notebooks":
    os.chdir(Path.cwd().parent)
if not (resolve_home(None) / "snapshots" / "latest").exists():
    raise FileNotFoundError(f"no published snapshot in {resolve_home(None).resolve()}: run "
                            "`make run` first, or set REELRANK_HOME")
home = DataHome.open(None)
pl.Config.set_tbl_rows(30)
pl.Config.set_fmt_str_lengths(60)
snap = ServingSnapshot.load(home.dir("snapshots") / "latest")
engine = Engine.load(snap, home.settings)
control = home.control()
today = datetime.now(UTC).date()
print(f"snapshot {snap.directory.name}: {snap.n_items:,} items, "
      f"{snap.active_users().len():,} active users, scorer {engine.scorer}")

# %% [markdown]
# ## Whose feed
#
# Without a `USER_ID`, the first active user (in id order) for whom the cameo-consent
# filter removed a candidate: someone whose feed shows hard rule 1 at work.

# %%
def first_with_consent_removals(users: list) -> object:
    for user in users:
        out = engine.rank([user], read_live(control, [user], today))
        if out.removed.get("cameo_consent", 0) > 0:
            return user
    return users[0]


user = USER_ID if USER_ID is not None else first_with_consent_removals(
    sorted(snap.active_users().to_list())[:300])
live = read_live(control, [user], today)
policy = live.policy(user)
query = engine.query(user, policy)
print(f"user {user}: {policy}")
print(f"taste vector: {'yes' if query.vector is not None else 'no'}"
      f"{' (built partly from chat interests)' if query.row >= 0 and snap.user_vector_from_chat[query.row] else ''}")

# %%
with home.warehouse(read_only=True) as con:
    items = con.sql("SELECT item_id, creator_id, topic, text AS caption FROM items").pl()
    topics = con.sql(
        "SELECT topic, user_topic_impressions_28d AS impressions_28d, "
        "user_topic_completes_rate_28d AS completes_rate_28d FROM features_user_topic "
        "WHERE user_id = ? ORDER BY impressions_28d DESC NULLS LAST, topic LIMIT 5",
        params=[user]).pl()
    region = con.sql("SELECT home_country, home_region, home_region_share "
                     "FROM features_home_region WHERE user_id = ?", params=[user]).pl()
display(region)
display(topics)

# %% [markdown]
# ## The page, with reasons

# %%
out = engine.rank([user], live)
page = out.pages[0]
feed = pl.DataFrame({
    "position": range(1, len(page.item_ids) + 1),
    "item_id": pl.Series(page.item_ids, dtype=snap.item_ids.dtype),
    "score": page.scores,
    "sources": page.sources,
    "reason": [reason_for(engine, query, item, source)
               for item, source in zip(page.item_ids, page.sources, strict=True)],
}).join(items, on="item_id", how="left", maintain_order="left")
print(f"{len(page.item_ids)} items, personalized: {page.personalized}; failed sources: "
      f"{out.failed_sources or 'none'}")
feed.head(20)

# %%
mix = (feed.select(pl.col("sources").str.split(",")).explode("sources")
       .group_by("sources").len().sort(["len", "sources"], descending=[True, False]))
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2))
left.bar(mix["sources"].to_list(), mix["len"].to_list(), color="#4477aa")
left.set_title("Which sources proposed the page's items")
left.set_ylabel("items")
right.plot(feed["position"], feed["score"], marker=".", color="#4477aa")
right.set_title("Score by position (the selector trades score for diversity)")
right.set_xlabel("position")
plt.show()

# %% [markdown]
# ## What each policy removed
#
# Filters run cheapest first on the merged candidates; each removal is counted under the
# filter's name (an item is counted by the first filter that removes it).

# %%
removed = pl.DataFrame({"filter": [f.NAME for f in FEED.filters]}).join(
    pl.DataFrame({"filter": list(out.removed), "removed": list(out.removed.values())},
                 schema={"filter": pl.String, "removed": pl.Int64}),
    on="filter", how="left").with_columns(pl.col("removed").fill_null(0))
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.barh(removed["filter"].to_list()[::-1], removed["removed"].to_list()[::-1], color="#cc6677")
ax.set_xlabel("candidates removed")
ax.set_title(f"Policy removals for {user}")
plt.show()
display(removed)

# %% [markdown]
# The same filters over the whole catalog, to name the videos each one keeps from this
# user, and for consent, whose permission is missing.

# %%
catalog = np.arange(snap.n_items)
examples = []
for component in FEED.filters:
    if not component.applies(policy):
        continue
    name = component.NAME
    for row in catalog[component.drop(snap, query, live, catalog)][:5].tolist():
        creator = snap.item_creator_ids[row]
        why = ""
        if name == "cameo_consent":
            missing = lacking_consent(creator, snap.cameo_owners.get(row, ()), live.grants)
            why = "no live grant from " + ", ".join(map(str, missing)) + f" to {creator}"
        examples.append({"filter": name, "item_id": str(snap.item_id_list[row]),
                         "creator_id": str(creator), "why": why})
pl.DataFrame(examples, schema={"filter": pl.String, "item_id": pl.String,
                               "creator_id": pl.String, "why": pl.String})

# %% [markdown]
# ## Batch and online agree
#
# The nightly batch wrote this user's page with the same `Engine.rank`; unless the live
# state changed since (a grant revoked, a setting switched), the pages are the same.

# %%
batch = pl.scan_parquet(home.dir("feeds") / "latest" / "part-*.parquet").filter(
    pl.col("user_id") == user).sort("position").collect()
same = batch["item_id"].to_list() == page.item_ids
print(f"batch page: {batch.height} items; identical to the page ranked now: {same}")

# %% [markdown]
# ## If a guardian switched personalization off
#
# A what-if on a copy of the live state (the control store is untouched): no per-user
# signal at all, so only the non-personal sources propose and items are ordered by
# regional and overall popularity.

# %%
off = dataclasses.replace(live, policies={user: dataclasses.replace(policy,
                                                                    personalized=False)})
plain = engine.rank([user], off).pages[0]
top = min(10, len(plain.item_ids))
pl.DataFrame({"position": range(1, top + 1), "item_id": [str(i) for i in plain.item_ids[:top]],
              "sources": plain.sources[:top],
              "in the personalized top 10": [i in page.item_ids[:10]
                                             for i in plain.item_ids[:top]]})

# %%
control.close()

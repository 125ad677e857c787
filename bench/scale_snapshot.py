"""Build a serving snapshot at benchmark scale by scaling up a real one.

    nice -n 10 .venv/bin/python bench/scale_snapshot.py                   # 1M items, 100k users
    .venv/bin/python bench/scale_snapshot.py --from bench/out/world --items 200000 --users 20000 \
        --out bench/out/scale-200k
    .venv/bin/python bench/scale_snapshot.py --smoke     # 3k x 500 from a tiny home, scratch out

The synthetic world generator cannot make a 1M-item catalog through the whole pipeline in a
reasonable time, so this takes a real snapshot (`--from`: a home where `reelrank run`
published `snapshots/latest`, or a snapshot directory) and grows it, keeping everything
that defines ranking real:

- every new item (`v{n:07d}`) and user (`u{n:07d}`) copies the feature row of a random real
  item or user (a "template"): feature columns, value distributions, defaults and the
  ranker are the real ones; ages are the template's +-12 h, so they spread over the window
  as the real ones do; topics and countries/regions come with the template;
- creators are a random share of the users (the real share), items per creator heavy-tailed
  (lognormal weights, sigma 1.2, about the real coefficient of variation);
- per-user tables keep the real per-user sizes: seen items (the template's count; mostly
  from a few "interest" clusters, the rest by popularity), graph degree (follows go to
  creators by popularity, friendships to random users), user x creator pairs (the creators
  of what the user saw, topped up), user x topic pairs (the template's); region x item pairs
  and the regional popularity lists come from the new seen table, region x item scaled by
  users;
- item embeddings (384-d) are a mixture around `--clusters` centroids (which themselves sit
  around one direction per real topic) plus noise, L2-normalised; a user's embedding is the
  normalised mean of the items they saw; collaborative vectors (64-d) likewise, with their
  own centroids per cluster, for the share of items and users the source's collaborative
  model covers (its factorised index, else its EASE model: a catalog past
  `ease_max_items` is factorised, and EASE itself is not scaled);
- the content and collaborative indexes are built with `ItemIndex` and `IndexParams()`
  (HNSW above 200k items: 3-6 minutes for 1M x 384 on two cores), the real ranker is linked
  in, the serving arrays are frozen (`ranking.snapshot.frozen.freeze_tables`) and
  `manifest.json` is written by `ranking.snapshot.format.write_manifest`, as
  `export_snapshot` does both, with the source's as-of date, defaults, log kind and ranker;
  `ranking.publish.publish_snapshot` makes it `latest`;
- the control store gets the real per-user live state scaled the same way (chat settings,
  guardian rules, cameo grants: each non-self cameo in a new item is granted at the real
  rate), since `read_live` and the consent filter cost what that state makes them cost;
  `--empty-control` leaves it empty.

The result is a home: `OUT/snapshots/<as_of>-<id>/`, `OUT/snapshots/latest`, and the control
store, so the API and `bench/bench_ranking.py --home OUT` serve from it. A rerun with the same
parameters and source finds `OUT/scale.json` and a snapshot that verifies, and does nothing.
Progress goes to stderr. Peak memory for 1M x 100k is about 6 GB.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from _smoke import parse_args, tiny_home
from scipy import sparse

from ranking.index import IndexParams, ItemIndex
from ranking.publish import publish_snapshot
from ranking.snapshot.format import ENTITY_FILES, MANIFEST, write_manifest
from ranking.snapshot.format import verify as _verify
from ranking.snapshot.frozen import freeze_tables
from reelrank.control.bulk import read_rows, replace_social_state
from reelrank.control.connection import Connection, connect
from reelrank.errors import ReelrankError
from reelrank.home import DataHome

VERSION = 1          # bump when the generated data changes, to invalidate caches
CONTENT_DIM = 384
COLLAB_DIM = 64
INTEREST_CLUSTERS = 4      # clusters a user's viewing concentrates on
INTEREST_SHARE = 0.7       # share of a user's seen items from those clusters
CREATOR_SIGMA = 1.2        # lognormal sigma of items per creator
AGE_JITTER_S = 12 * 3600.0
ITEM_NOISE, USER_NOISE = 0.7, 0.3   # noise norm relative to the unit centroid
CHUNK = 100_000

_T0 = time.perf_counter()
BENCH = Path(__file__).resolve().parent
DEFAULT_HOME = BENCH.parent / ".reelrank"
WORLD_HOME = BENCH / "out" / "world"     # scratch default world when DEFAULT_HOME has none


def _rss_gb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s rss {_rss_gb():4.1f} GB] {message}",
          file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- source


def _source(path: Path) -> tuple[Path, Path | None] | None:
    """(snapshot directory, home or None) for a home or a snapshot directory."""
    if (path / MANIFEST).is_file():
        return path.resolve(), None
    latest = path / "snapshots" / "latest"
    if (latest / MANIFEST).is_file():
        return latest.resolve(), path.resolve()
    return None


def _default_source() -> tuple[Path, Path | None]:
    """The lead's home if it has published a snapshot, else the scratch default world
    (made here, about 2 minutes, if it is not there yet)."""
    for home in (DEFAULT_HOME, WORLD_HOME):
        found = _source(home)
        if found is not None:
            return found
    from cli.runner import run_nightly
    from pipelines.resources import EmbedderResource

    say(f"{DEFAULT_HOME} has no snapshots/latest: building the default world "
        f"(3,000 users, 14 days, hashing embedder) in {WORLD_HOME}")
    summary = run_nightly(DataHome.open(WORLD_HOME), users=3000, days=14,
                          embedder=EmbedderResource(backend="hashing"), progress=say)
    found = _source(WORLD_HOME)
    if not summary.success or found is None:
        raise SystemExit(f"building the default world in {WORLD_HOME} failed: {summary}")
    return found


def _codes(keys: pl.Series, index: dict[object, int]) -> np.ndarray:
    return np.fromiter((index.get(k, -1) for k in keys.to_list()), dtype=np.int64,
                       count=keys.len())


def _groups(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, start, count): rows of group g are order[start[g]:start[g] + count[g]]."""
    ok = np.flatnonzero(codes >= 0)
    order = ok[np.argsort(codes[ok], kind="stable")]
    count = np.bincount(codes[ok], minlength=n)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return order, start, count


def _ragged(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups (start, count): (group of each element, start + position)."""
    owner = np.repeat(np.arange(len(count)), count)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    pos = np.arange(int(count.sum())) - np.repeat(first, count)
    return owner, np.repeat(start, count) + pos


def _rank_in_group(keys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order within each group of equal `keys` (0, 1, ...), for sub-sampling."""
    order = np.lexsort((rng.random(len(keys)), keys))
    sorted_keys = keys[order]
    new = np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]])
    first = np.maximum.accumulate(np.where(new, np.arange(len(keys)), 0))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - first
    return rank


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.where(norms > 0, norms, 1)).astype(np.float32)


def _ids(prefix: str, n: int) -> pl.Series:
    return pl.select(pl.format(prefix + "{}", pl.int_range(1, n + 1).cast(pl.String)
                               .str.zfill(7)).alias("id")).to_series()


class Real:
    """The source snapshot's tables and the per-template statistics drawn from them."""

    def __init__(self, directory: Path, home: Path | None) -> None:
        read = lambda name: pl.read_parquet(directory / name)
        self.manifest = json.loads((directory / MANIFEST).read_text())
        self.directory = directory
        self.users = read("users.parquet")
        self.items = read("items.parquet")
        self.features = {name: read(file) for name, file in ENTITY_FILES.items()}
        self.home_region = read("home_region.parquet")
        self.popular = read("regional_popularity.parquet")
        self.graph = read("graph.parquet")
        self.seen = read("seen.parquet")
        self.user_emb = read("user_embeddings.parquet")
        collab = directory / "indexes" / "collaborative"
        self.collab_items = pl.read_parquet(collab / "ids.parquet").height \
            if (collab / "ids.parquet").is_file() else 0
        self.collab_users = pl.read_parquet(collab / "users.parquet").height \
            if (collab / "users.parquet").is_file() else 0
        ease = directory / "indexes" / "ease" / "ids.parquet"
        if not self.collab_items and ease.is_file():
            # A catalog small enough for EASE (`ease_max_items`) has no factorised model, but
            # the scaled one, far past that, gets it from the pipeline: as much of it as EASE
            # covered here (its items; every user with history, the window being long).
            self.collab_items = pl.read_parquet(ease).height
            self.collab_users = self.seen["user_id"].n_unique()
        self.n_users, self.n_items = self.users.height, self.items.height
        self.user_row = {u: n for n, u in enumerate(self.users["user_id"].to_list())}
        self.item_row = {i: n for n, i in enumerate(self.items["item_id"].to_list())}
        self.as_of_s = datetime.combine(datetime.fromisoformat(self.manifest["as_of"]).date(),
                                        dtime(), tzinfo=UTC).timestamp()
        U = self.n_users
        s_user = _codes(self.seen["user_id"], self.user_row)
        self.seen_count = np.bincount(s_user[s_user >= 0], minlength=U)
        g_user = _codes(self.graph["user_id"], self.user_row)
        follows = self.graph["follows"].to_numpy()
        self.follow_count = np.bincount(g_user[(g_user >= 0) & follows], minlength=U)
        self.friend_count = np.bincount(g_user[(g_user >= 0) & ~follows], minlength=U)
        # rows of per-user tables, grouped by real user
        self.uc = _groups(_codes(self.features["user_creator"]["user_id"], self.user_row), U)
        self.ut = _groups(_codes(self.features["user_topic"]["user_id"], self.user_row), U)
        self.user_feature_row = self._row_of(self.features["user"]["user_id"], U)
        self.home_row = self._row_of(self.home_region["user_id"], U)
        self.emb_row = self._row_of(self.user_emb["user_id"], U)
        self.item_feature_row = self._row_of(self.features["item"]["item_id"], self.n_items,
                                             self.item_row)
        creators = self.items["creator_id"].unique()
        self.creator_share = creators.len() / U
        self.cameo_self_share = self._cameo_self_share()
        self.control = self._control(home / "control.sqlite" if home else None)

    def _row_of(self, keys: pl.Series, n: int, index: dict | None = None) -> np.ndarray:
        out = np.full(n, -1, dtype=np.int64)
        codes = _codes(keys, index if index is not None else self.user_row)
        out[codes[codes >= 0]] = np.flatnonzero(codes >= 0)
        return out

    def _cameo_self_share(self) -> float:
        c = self.items.filter(pl.col("cameo_user_ids").list.len() > 0)
        if c.height == 0:
            return 0.0
        return c.select(pl.col("cameo_user_ids").list.contains(pl.col("creator_id")).mean()
                        ).item()

    def _control(self, path: Path | None) -> dict:
        """Per real user: live and revoked grants owned, chat flag, guardian row, blocks;
        and the share of non-self cameos whose grant is live."""
        U = self.n_users
        out = {"live": np.zeros(U, np.int64), "revoked": np.zeros(U, np.int64),
               "chat": np.zeros(U, bool), "guardian": {}, "blocks": np.zeros(U, np.int64),
               "cameo_granted": 1.0, "have": False}
        if path is None or not path.is_file():
            return out
        con = connect(path, read_only=True)
        try:
            grants = [(o, g, revoked is None)
                      for o, g, _at, revoked, _up in read_rows(con, "cameo_grants")]
            for owner, _grantee, live in grants:
                r = self.user_row.get(owner, -1)
                if r >= 0:
                    out["live" if live else "revoked"][r] += 1
            for user, chat, _up in read_rows(con, "user_settings"):
                r = self.user_row.get(user, -1)
                if r >= 0:
                    out["chat"][r] = bool(chat)
            for row in read_rows(con, "guardians"):
                # (personalization, scroll_limit, scroll_override, override_day, dm_policy)
                r = self.user_row.get(row[0], -1)
                if r >= 0:
                    out["guardian"][r] = row[2:7]
            for user, _blocked, _at in read_rows(con, "user_blocks"):
                r = self.user_row.get(user, -1)
                if r >= 0:
                    out["blocks"][r] += 1
            live = {(o, g) for o, g, ok in grants if ok}
        finally:
            con.close()
        pairs = [(o, c) for c, owners in zip(self.items["creator_id"].to_list(),
                                             self.items["cameo_user_ids"].to_list())
                 for o in owners or () if o != c]
        if pairs:
            out["cameo_granted"] = sum(p in live for p in pairs) / len(pairs)
        out["have"] = True
        return out


# --------------------------------------------------------------------------- build


def build(real: Real, n_items: int, n_users: int, seed: int, clusters: int, out_root: Path,
          control: Connection | None) -> Path:
    rng = np.random.default_rng(seed)
    N, U = n_items, n_users
    as_of = real.manifest["as_of"]
    as_of_s = real.as_of_s
    root = out_root / "snapshots"
    root.mkdir(parents=True, exist_ok=True)
    name = f"{as_of}-{uuid.uuid4().hex[:8]}"
    tmp = root / f".tmp-{name}"
    tmp.mkdir()
    write = lambda frame, file: frame.write_parquet(tmp / file, compression="zstd")

    try:
        # ---- users
        tu = rng.integers(real.n_users, size=U)            # template of each new user
        user_ids = _ids("u", U)
        country = real.users["country"].gather(tu)
        write(pl.DataFrame({"user_id": user_ids, "country": country}), "users.parquet")
        has_home = real.home_row[tu] >= 0
        homes = real.home_region[real.home_row[tu][has_home]].with_columns(
            user_id=user_ids.filter(pl.Series(has_home)))
        write(homes, "home_region.parquet")
        region_of_user = np.full(U, -1, dtype=np.int64)
        region_names = sorted(set(homes["home_region"].drop_nulls().to_list())
                              | set(real.popular["region"].to_list())
                              | set(real.features["region_item"]["region"].to_list()))
        region_code = {r: n for n, r in enumerate(region_names)}
        region_of_user[np.flatnonzero(has_home)] = _codes(homes["home_region"], region_code)
        has_uf = real.user_feature_row[tu] >= 0
        uf = real.features["user"][real.user_feature_row[tu][has_uf]].with_columns(
            user_id=user_ids.filter(pl.Series(has_uf)))
        write(uf, ENTITY_FILES["user"])
        del uf, homes
        say(f"users: {U:,} (templates from {real.n_users:,} real users)")

        # ---- creators and items
        n_creators = max(1, round(U * real.creator_share))
        creators = np.sort(rng.choice(U, n_creators, replace=False))
        weight = rng.lognormal(0.0, CREATOR_SIGMA, n_creators)
        item_creator = creators[rng.choice(n_creators, N, p=weight / weight.sum())]
        per_creator = np.bincount(item_creator, minlength=U)
        ti = rng.integers(real.n_items, size=N)             # template of each new item
        item_ids = _ids("v", N)
        r_items = real.items
        age = as_of_s - r_items["created_s"].to_numpy()[ti] \
            + rng.uniform(-AGE_JITTER_S, AGE_JITTER_S, N)
        max_age = float((as_of_s - r_items["created_s"].to_numpy()).max())
        age = np.clip(age, 60.0, max(max_age, 3600.0))
        created_s = as_of_s - age
        impressions = r_items["impressions_before"].to_numpy()[ti]
        cameo_n = r_items["cameo_user_ids"].list.len().fill_null(0).to_numpy()[ti]
        grants = _grants(rng, real, tu)
        cameo_owner, grants = _cameos(rng, cameo_n, item_creator, U, real.cameo_self_share,
                                      real.control["cameo_granted"], grants)
        offsets = np.concatenate([[0], np.cumsum(cameo_n)]).astype(np.int32)
        owners = pl.from_arrow(pa.ListArray.from_arrays(
            pa.array(offsets), user_ids.gather(cameo_owner).to_arrow().cast(pa.string())))
        items = r_items[ti].with_columns(
            item_id=item_ids,
            creator_id=user_ids.gather(item_creator),
            created_s=pl.Series(created_s),
            item_age_hours=pl.Series(np.ceil(age / 3600.0).astype(np.int64)),
            cameo_user_ids=owners.cast(pl.List(pl.String)),
            item_cameo_count=pl.Series(cameo_n.astype(np.int64)),
            creator_country=country.gather(item_creator),
        ).select(r_items.columns)
        write(items, "items.parquet")
        topic_of_item = items["topic"]
        del items, owners
        has_if = real.item_feature_row[ti] >= 0
        fi = real.features["item"][real.item_feature_row[ti][has_if]].with_columns(
            item_id=item_ids.filter(pl.Series(has_if)))
        write(fi, ENTITY_FILES["item"])
        del fi
        rc = real.features["creator"]
        active_creators = np.flatnonzero(per_creator > 0)
        fc = rc[rng.integers(rc.height, size=len(active_creators))].with_columns(
            creator_id=user_ids.gather(active_creators)).sort("creator_id")
        write(fc, ENTITY_FILES["creator"])
        del fc
        say(f"items: {N:,} from {real.n_items:,} real ones; {len(active_creators):,} "
            f"creators, items per creator max {per_creator.max():,} "
            f"median {int(np.median(per_creator[active_creators]))}")

        # ---- item embeddings: clusters around one direction per topic
        topics = sorted(topic_of_item.drop_nulls().unique().to_list())
        topic_idx = _codes(topic_of_item, {t: n for n, t in enumerate(topics)})
        item_cluster, centroids, collab_centroids = _clusters(rng, topic_idx, len(topics),
                                                              clusters)
        vectors = np.empty((N, CONTENT_DIM), dtype=np.float32)
        for s in range(0, N, CHUNK):
            c = item_cluster[s:s + CHUNK]
            noise = rng.standard_normal((len(c), CONTENT_DIM), dtype=np.float32)
            vectors[s:s + CHUNK] = _unit(centroids[c] + noise * (ITEM_NOISE /
                                                                 math.sqrt(CONTENT_DIM)))
        _write_vectors(tmp / "item_embeddings.parquet", "item_id", item_ids, vectors,
                       {"item_id": pa.string(), "embedding": pa.list_(pa.float32())})
        has_collab = rng.random(N) < (real.collab_items / real.n_items)
        collab = np.zeros((N, COLLAB_DIM), dtype=np.float32)
        rows = np.flatnonzero(has_collab)
        collab[rows] = _unit(collab_centroids[item_cluster[rows]] + rng.standard_normal(
            (len(rows), COLLAB_DIM), dtype=np.float32) * (ITEM_NOISE / math.sqrt(COLLAB_DIM)))
        say(f"item vectors: {N:,} x {CONTENT_DIM} around {len(centroids):,} centroids, "
            f"{len(rows):,} collaborative x {COLLAB_DIM}")

        # ---- seen: mostly the user's interest clusters, the rest by popularity
        size = np.bincount(item_cluster, minlength=len(centroids))
        interests = rng.choice(len(centroids), (U, INTEREST_CLUSTERS), p=size / size.sum())
        order, start, _count = _groups(item_cluster, len(centroids))
        want = real.seen_count[tu]
        su = np.repeat(np.arange(U), np.ceil(want * 1.25).astype(np.int64))  # dupes go
        from_interest = rng.random(len(su)) < INTEREST_SHARE
        si = np.empty(len(su), dtype=np.int64)
        k = int(from_interest.sum())
        c = interests[su[from_interest], rng.integers(INTEREST_CLUSTERS, size=k)]
        si[from_interest] = order[start[c] + (rng.random(k) * size[c]).astype(np.int64)]
        pop = impressions + 1.0
        si[~from_interest] = rng.choice(N, len(su) - k, p=pop / pop.sum())
        key = np.unique(su * N + si)
        su, si = key // N, key % N
        keep = _rank_in_group(su, rng) < want[su]
        su, si = su[keep], si[keep]
        short = want - np.bincount(su, minlength=U)   # small catalogs: fill uniformly
        fill = np.repeat(np.arange(U), short)
        key = np.unique(np.concatenate([su * N + si,
                                        fill * N + rng.integers(N, size=len(fill))]))
        su, si = key // N, key % N
        del key, from_interest, keep, fill
        write(pl.DataFrame({"user_id": user_ids.gather(su), "item_id": item_ids.gather(si)}),
              "seen.parquet")
        seen_n = np.bincount(su, minlength=U)
        say(f"seen: {len(su):,} rows, {len(su) / max((seen_n > 0).sum(), 1):.1f} per active "
            f"user (real {real.seen.height / max((real.seen_count > 0).sum(), 1):.1f})")

        # ---- user vectors: mean of what they saw
        seen_m = sparse.csr_matrix((np.ones(len(su), dtype=np.float32), (su, si)),
                                   shape=(U, N))
        has_emb = real.emb_row[tu] >= 0
        emb_users = np.flatnonzero(has_emb)
        user_vec = np.asarray(seen_m[emb_users] @ vectors, dtype=np.float32)
        empty = np.linalg.norm(user_vec, axis=1) == 0
        user_vec[empty] = centroids[interests[emb_users[empty]]].mean(axis=1)
        user_vec = _unit(_unit(user_vec) + rng.standard_normal(
            user_vec.shape, dtype=np.float32) * (USER_NOISE / math.sqrt(CONTENT_DIM)))
        from_chat = real.user_emb["from_chat"].fill_null(False).to_numpy()[real.emb_row[tu]
                                                                          [has_emb]]
        _write_vectors(tmp / "user_embeddings.parquet", "user_id",
                       user_ids.gather(emb_users), user_vec,
                       {"user_id": pa.string(), "embedding": pa.list_(pa.float32())},
                       extra={"from_chat": pa.array(from_chat)})
        del user_vec
        active = np.flatnonzero(seen_n > 0)
        rate = real.collab_users / max(int((real.seen_count > 0).sum()), 1)
        collab_users = active[rng.random(len(active)) < rate]
        cu_vec = np.asarray(seen_m[collab_users] @ collab, dtype=np.float32)
        ok = np.linalg.norm(cu_vec, axis=1) > 0
        collab_users, cu_vec = collab_users[ok], _unit(cu_vec[ok]).astype(np.float64)
        del seen_m
        say(f"user vectors: {len(emb_users):,} content, {len(collab_users):,} collaborative")

        # ---- graph: follows to creators by popularity, friendships to anyone
        nf, nr = real.follow_count[tu], real.friend_count[tu]
        f_user = np.repeat(np.arange(U), nf)
        f_author = creators[rng.choice(n_creators, len(f_user),
                                       p=per_creator[creators] / N)]
        r_user = np.repeat(np.arange(U), nr)
        r_author = rng.integers(U, size=len(r_user))
        g_user = np.concatenate([f_user, r_user])
        g_author = np.concatenate([f_author, r_author])
        g_follow = np.concatenate([np.ones(len(f_user), bool), np.zeros(len(r_user), bool)])
        ok = g_user != g_author
        g_user, g_author, g_follow = g_user[ok], g_author[ok], g_follow[ok]
        # one edge per (user, author, kind), sorted like the export
        key = (g_user * U + g_author) * 2 + g_follow
        _, first = np.unique(key, return_index=True)
        g_user, g_author, g_follow = g_user[first], g_author[first], g_follow[first]
        write(pl.DataFrame({"user_id": user_ids.gather(g_user),
                            "author": user_ids.gather(g_author), "follows": g_follow}),
              "graph.parquet")
        say(f"graph: {len(g_user):,} edges, {len(g_user) / U:.1f} per user (real "
            f"{real.graph.height / real.n_users:.1f})")
        del f_user, f_author, r_user, r_author, g_user, g_author, g_follow, key, first

        # ---- user x creator: the creators of what they saw, to the template's count
        uc_order, uc_start, uc_count = real.uc
        target = uc_count[tu]
        key = np.unique(su * U + item_creator[si])
        pu, pc = key // U, key % U
        keep = _rank_in_group(pu, rng) < target[pu]
        pu, pc = pu[keep], pc[keep]
        short = np.maximum(target - np.bincount(pu, minlength=U), 0)
        tu_user = np.repeat(np.arange(U), short)
        tu_creator = creators[rng.choice(n_creators, len(tu_user),
                                         p=per_creator[creators] / N)]
        key = np.unique(np.concatenate([pu * U + pc, tu_user * U + tu_creator]))
        pu, pc = key // U, key % U
        rank = _rank_in_group(pu, rng)
        t = tu[pu]
        src = uc_order[uc_start[t] + rank % np.maximum(uc_count[t], 1)]
        write(real.features["user_creator"][src].with_columns(
            user_id=user_ids.gather(pu), creator_id=user_ids.gather(pc)),
            ENTITY_FILES["user_creator"])
        say(f"user x creator: {len(pu):,} pairs ({len(pu) / U:.1f} per user, real "
            f"{real.features['user_creator'].height / real.n_users:.1f})")
        del key, pu, pc, rank, t, src, tu_user, tu_creator

        # ---- user x topic: the template's rows
        ut_order, ut_start, ut_count = real.ut
        owner, at = _ragged(ut_start[tu], ut_count[tu])
        write(real.features["user_topic"][ut_order[at]].with_columns(
            user_id=user_ids.gather(owner)), ENTITY_FILES["user_topic"])
        say(f"user x topic: {len(owner):,} pairs")
        del owner, at

        # ---- region x item: (home region, seen item) pairs, scaled with the users
        ri_real = real.features["region_item"]
        r = region_of_user[su]
        ok = r >= 0
        key, views = np.unique(r[ok] * N + si[ok], return_counts=True)
        target_n = min(len(key), round(ri_real.height * U / real.n_users))
        pick = np.sort(rng.choice(len(key), target_n, replace=False))
        pr, pi = key[pick] // N, key[pick] % N
        ri_order, ri_start, ri_count = _groups(_codes(ri_real["region"], region_code),
                                               len(region_names))
        # feature rows: a random real row of the same region (any region's if it has none)
        at = np.minimum(ri_start[pr] + (rng.random(len(pr)) * ri_count[pr]).astype(np.int64),
                        ri_real.height - 1)
        src = np.where(ri_count[pr] > 0, ri_order[at],
                       rng.integers(ri_real.height, size=len(pr)))
        names = pl.Series(region_names)
        write(ri_real[src].with_columns(region=names.gather(pr), item_id=item_ids.gather(pi))
              .sort("region", "item_id"), ENTITY_FILES["region_item"])
        say(f"region x item: {target_n:,} pairs (real {ri_real.height:,})")

        # ---- regional popularity: per real list, the region's most viewed items
        kr, ki = key // N, key % N
        popular = []
        top_global = np.argsort(-impressions, kind="stable")
        for (region,), part in real.popular.sort("rank").group_by("region",
                                                                  maintain_order=True):
            code = region_code[region]
            lo, hi = np.searchsorted(kr, [code, code + 1])
            cand = ki[lo:hi][np.lexsort((-impressions[ki[lo:hi]], -views[lo:hi]))]
            if len(cand) < part.height:
                head = top_global[:part.height + len(cand)]
                cand = np.concatenate([cand, head[~np.isin(head, cand)]])
            popular.append(part.with_columns(item_id=item_ids.gather(cand[:part.height])))
        write(pl.concat(popular).sort("region", "rank"), "regional_popularity.parquet")
        del key, views, kr, ki, popular, su, si, r
        say(f"regional popularity: {real.popular['region'].n_unique()} lists")

        # ---- control store: the live state read per request
        if control is not None:
            _control(control, real, rng, tu, user_ids, creators, grants, as_of_s)

        # ---- indexes (the slow part), ranker, manifest
        params = IndexParams()
        say(f"content index: {N:,} x {CONTENT_DIM} "
            f"({'HNSW' if N >= params.exact_below else 'exact'}; minutes for 1M)")
        started = time.perf_counter()
        ItemIndex.build(item_ids, vectors, params).save(tmp / "indexes" / "content")
        say(f"content index built and saved in {time.perf_counter() - started:.0f}s")
        del vectors
        gc.collect()
        rows = np.flatnonzero(has_collab)
        started = time.perf_counter()
        ItemIndex.build(item_ids.gather(rows), collab[rows], params).save(
            tmp / "indexes" / "collaborative")
        del collab
        pq.write_table(pa.table({
            "user_id": user_ids.gather(collab_users).to_arrow().cast(pa.string()),
            "vector": pa.ListArray.from_arrays(
                pa.array(np.arange(len(collab_users) + 1, dtype=np.int32) * COLLAB_DIM),
                pa.array(cu_vec.ravel()))}),
            tmp / "indexes" / "collaborative" / "users.parquet", compression="zstd")
        say(f"collaborative index: {len(rows):,} x {COLLAB_DIM} in "
            f"{time.perf_counter() - started:.0f}s")
        if (real.directory / "ranker").is_dir():
            _link_files(real.directory / "ranker", tmp / "ranker")
        # As export_snapshot does: the arrays computed once here, so servers map them; then
        # the manifest (the source's fields, this snapshot's files) by the format module.
        started = time.perf_counter()
        gc.collect()
        freeze_tables(tmp, real.manifest["defaults"])
        say(f"arrays frozen in {time.perf_counter() - started:.0f}s")
        write_manifest(tmp, as_of=as_of, defaults=real.manifest["defaults"],
                       log_kind=real.manifest.get("log_kind", "exposures"),
                       ranker=real.manifest.get("ranker"))
        out = root / name
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish_snapshot(root, out)
    return out


def _link_files(source: Path, target: Path) -> None:
    """Hard-link (else copy) the files of a finished artifact directory (the ranker): the
    scaled snapshot ranks with the very model the source was built with."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.is_file():
            try:
                os.link(item, target / item.name)
            except OSError:
                shutil.copy2(item, target / item.name)


def _grants(rng: np.random.Generator, real: Real, tu: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner, grantee, revoked) cameo grants: each user grants as many people as their
    template did (live and revoked), to random people."""
    c = real.control
    live_n, revoked_n = c["live"][tu], c["revoked"][tu]
    owner, at = _ragged(np.zeros(len(tu), dtype=np.int64), live_n + revoked_n)
    revoked = at >= live_n[owner]        # each owner's first live_n grants are live
    grantee = rng.integers(len(tu), size=len(owner))
    ok = owner != grantee
    return owner[ok], grantee[ok], revoked[ok]


def _cameos(rng: np.random.Generator, count: np.ndarray, creator: np.ndarray, n_users: int,
            self_share: float, granted: float,
            grants: tuple[np.ndarray, np.ndarray, np.ndarray]
            ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Owners (user codes, flat in item order) for `count` cameos per item: the creator
    first in `self_share` of the items; each other owner, with probability `granted`, one of
    the people whose live grant the creator holds (a new grant from a random person when
    there is none), else a random person. Returns the owners and the grants, extended."""
    g_owner, g_grantee, g_revoked = grants
    item = np.repeat(np.arange(len(count)), count)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    pos = np.arange(int(count.sum())) - np.repeat(first, count)
    made_by = creator[item]
    owners = rng.integers(n_users, size=len(item))
    clash = owners == made_by
    owners[clash] = (owners[clash] + 1) % n_users
    is_self = (pos == 0) & (rng.random(len(count)) < self_share)[item]
    owners[is_self] = made_by[is_self]
    lucky = np.flatnonzero(~is_self & (rng.random(len(item)) < granted))
    order, start, n = _groups(np.where(g_revoked, -1, g_grantee), n_users)
    c = made_by[lucky]
    has = n[c] > 0
    at = start[c[has]] + (rng.random(int(has.sum())) * n[c[has]]).astype(np.int64)
    owners[lucky[has]] = g_owner[order[at]]
    new = lucky[~has]                     # the random owner grants the creator now
    grants = (np.concatenate([g_owner, owners[new]]),
              np.concatenate([g_grantee, made_by[new]]),
              np.concatenate([g_revoked, np.zeros(len(new), bool)]))
    return owners, grants


def _clusters(rng: np.random.Generator, topic_idx: np.ndarray, n_topics: int, clusters: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cluster of each item, content centroids, collaborative centroids): clusters shared
    out over topics by their item counts, centroids around one direction per topic, cluster
    sizes lognormal within a topic. Items without a topic go to any cluster."""
    counts = np.bincount(topic_idx[topic_idx >= 0], minlength=max(n_topics, 1))
    per_topic = np.maximum(1, np.round(clusters * counts / max(counts.sum(), 1))).astype(int)
    cluster_topic = np.repeat(np.arange(len(per_topic)), per_topic)
    topic_dir = _unit(rng.standard_normal((len(per_topic), CONTENT_DIM)))
    centroids = _unit(0.8 * topic_dir[cluster_topic] + rng.standard_normal(
        (len(cluster_topic), CONTENT_DIM)) / math.sqrt(CONTENT_DIM))
    collab_dir = _unit(rng.standard_normal((len(per_topic), COLLAB_DIM)))
    collab_centroids = _unit(0.8 * collab_dir[cluster_topic] + rng.standard_normal(
        (len(cluster_topic), COLLAB_DIM)) / math.sqrt(COLLAB_DIM))
    weight = rng.lognormal(0.0, 0.5, len(cluster_topic))
    item_cluster = rng.integers(len(cluster_topic), size=len(topic_idx))
    first = np.concatenate([[0], np.cumsum(per_topic)[:-1]])
    for t in range(len(per_topic)):
        members = np.flatnonzero(topic_idx == t)
        w = weight[first[t]:first[t] + per_topic[t]]
        item_cluster[members] = first[t] + rng.choice(per_topic[t], len(members),
                                                      p=w / w.sum())
    return item_cluster, centroids, collab_centroids


def _write_vectors(path: Path, key: str, ids: pl.Series, matrix: np.ndarray,
                   types: dict[str, pa.DataType], extra: dict[str, pa.Array] | None = None
                   ) -> None:
    """Ids + a list<float32> column, written in row groups so no second copy is made."""
    schema = pa.schema([(key, types[key]), ("embedding", types["embedding"]),
                        *[(k, v.type) for k, v in (extra or {}).items()]])
    dim = matrix.shape[1]
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for s in range(0, len(matrix), CHUNK):
            part = matrix[s:s + CHUNK]
            columns = [ids[s:s + CHUNK].to_arrow().cast(types[key]),
                       pa.ListArray.from_arrays(
                           pa.array(np.arange(len(part) + 1, dtype=np.int32) * dim),
                           pa.array(np.ascontiguousarray(part).ravel())),
                       *[v[s:s + CHUNK] for v in (extra or {}).values()]]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


def _control(con: Connection, real: Real, rng: np.random.Generator, tu: np.ndarray,
             user_ids: pl.Series, creators: np.ndarray,
             grants: tuple[np.ndarray, np.ndarray, np.ndarray], as_of_s: float) -> None:
    """Replace the scaled home's chat settings, guardian rules, blocks and cameo grants
    with the source's, per template user."""
    c = real.control
    U = len(tu)
    ids = user_ids.to_list()
    stamp = (datetime.fromtimestamp(as_of_s, UTC) - timedelta(days=30)).isoformat() \
        .replace("+00:00", "Z")
    owner, grantee, revoked = grants
    # one row per (owner, grantee): a live grant wins over a revoked one
    order = np.lexsort((revoked, owner * U + grantee))
    key = (owner * U + grantee)[order]
    first = order[np.concatenate([[True], key[1:] != key[:-1]])[:len(order)]]
    rows = [(ids[o], ids[g], stamp, stamp if r else None, stamp)
            for o, g, r in zip(owner[first].tolist(), grantee[first].tolist(),
                               revoked[first].tolist())]
    settings = [(ids[u], int(c["chat"][t]), stamp) for u, t in enumerate(tu.tolist())]
    guardians = []
    for u, t in enumerate(tu.tolist()):
        rule = c["guardian"].get(t)
        if rule is not None:
            g = int(rng.integers(U - 1))
            guardians.append((ids[u], ids[g + (g >= u)], *rule, stamp, stamp))
    b_user = np.repeat(np.arange(U), c["blocks"][tu])
    b_target = creators[rng.integers(len(creators), size=len(b_user))]
    blocks = {(ids[u], ids[b], stamp) for u, b in zip(b_user.tolist(), b_target.tolist())
              if u != b}
    replace_social_state(con, {"cameo_grants": rows, "user_settings": settings,
                               "guardians": guardians, "user_blocks": sorted(blocks)})
    live = sum(1 for g in rows if g[3] is None)
    say(f"control store: {live:,} live grants ({live / U:.2f} per user; real "
        f"{c['live'].sum() / real.n_users:.2f}), {len(rows) - live:,} revoked, {len(settings):,} settings, "
        f"{len(guardians):,} guardian rules, {len(blocks):,} blocks")


# --------------------------------------------------------------------------- cache, main


def _params(args: argparse.Namespace, real_manifest: Path) -> dict:
    return {"version": VERSION,
            "script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
            "items": args.items, "users": args.users, "seed": args.seed,
            "clusters": args.clusters, "empty_control": args.empty_control,
            "source_manifest_sha256": hashlib.sha256(real_manifest.read_bytes()).hexdigest()}


def _cached(out: Path, params: dict) -> Path | None:
    try:
        state = json.loads((out / "scale.json").read_text())
    except (OSError, ValueError):
        return None
    latest = out / "snapshots" / "latest"
    if state.get("params") != params or not latest.is_dir() \
            or latest.resolve().name != state.get("snapshot"):
        return None
    try:
        _verify(latest.resolve(), trusted=latest.parent / ".verified")  # as servers do
    except ReelrankError as exc:
        say(f"cached snapshot does not verify ({exc}); rebuilding")
        return None
    return latest.resolve()


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="a home with snapshots/latest, or a snapshot directory "
                        f"(default: {DEFAULT_HOME}, else {WORLD_HOME}, made if missing)")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/scale-1m"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clusters", type=int, default=2_000)
    parser.add_argument("--empty-control", action="store_true",
                        help="leave the control store empty (no grants, settings, guardians)")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--no-check", action="store_true",
                        help="skip loading the result and ranking a few users")
    # --smoke: a tiny real snapshot scaled to 3k items x 500 users in a scratch home.
    args = parse_args(parser, {"items": 3_000, "users": 500, "clusters": 50, "out": None})
    if args.items < 1 or args.users < 2:
        parser.error("--items must be >= 1 and --users >= 2")
    if args.smoke and args.source is None:
        args.source = tiny_home()
    if args.out is not None:
        _scale(parser, args, args.out.resolve())
        return
    with tempfile.TemporaryDirectory(prefix="reelrank-scale-smoke-") as scratch:
        _scale(parser, args, Path(scratch) / "scale")


def _scale(parser: argparse.ArgumentParser, args: argparse.Namespace, out: Path) -> None:
    if args.source is None:
        source, home = _default_source()
    else:
        found = _source(args.source)
        if found is None:
            parser.error(f"{args.source}: neither a snapshot directory nor a home with "
                         "snapshots/latest (run `reelrank run` there first)")
        source, home = found
    params = _params(args, source / MANIFEST)
    if not args.force:
        hit = _cached(out, params)
        if hit is not None:
            say(f"cached: {hit} already holds {args.items:,} items x {args.users:,} users "
                f"from {source} ({_du(hit) / 2**30:.2f} GiB); --force rebuilds")
            print(hit)
            return
    say(f"source {source} ({'home ' + str(home) if home else 'no home: control state empty'})")
    real = Real(source, home)
    old = json.loads((out / "scale.json").read_text()).get("snapshot") \
        if (out / "scale.json").is_file() else None
    data_home = DataHome.open(out)
    control = None if args.empty_control else data_home.control()
    if control is None:
        con = data_home.control()
        replace_social_state(con, {})
        con.close()
    started = time.perf_counter()
    try:
        snapshot = build(real, args.items, args.users, args.seed, args.clusters, out, control)
    finally:
        if control is not None:
            control.close()
    seconds = time.perf_counter() - started
    if old and old != snapshot.name and (out / "snapshots" / old).is_dir():
        shutil.rmtree(out / "snapshots" / old)
    size = _du(snapshot)
    (out / "scale.json").write_text(json.dumps({
        "params": params, "snapshot": snapshot.name, "source": str(source),
        "build_s": round(seconds, 1), "bytes": size, "peak_rss_gb": round(_peak_gb(), 2),
    }, indent=2))
    say(f"published {snapshot} in {seconds:.0f}s: {size / 2**30:.2f} GiB on disk, "
        f"peak RSS {_peak_gb():.1f} GB")
    if not args.no_check:
        del real
        gc.collect()
        _check(snapshot, data_home)
    print(snapshot)


def _check(snapshot: Path, home: DataHome) -> None:
    """Load the snapshot the way the server does and rank a few users."""
    from ranking.engine import Engine
    from ranking.policy import read_live
    from ranking.snapshot.reader import ServingSnapshot

    started = time.perf_counter()
    snap = ServingSnapshot.load(snapshot)
    engine = Engine.load(snap, home.settings)
    say(f"check: loaded in {time.perf_counter() - started:.1f}s")
    users = snap.active_users().head(5).to_list()
    control = home.control()
    try:
        out = engine.rank(users, read_live(control, users, snap.as_of))
    finally:
        control.close()
    lengths = [len(p.item_ids) for p in out.pages]
    say(f"check: ranked {len(users)} users, page lengths {lengths}, removed {out.removed}, "
        f"failed sources {out.failed_sources or 'none'}")
    if not all(lengths):
        raise SystemExit("check failed: an empty page")


if __name__ == "__main__":
    main()

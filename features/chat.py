"""Chat-history interests: used only for users who opted in, and kept for nobody else.

`build_chat_interests` rebuilds `chat_interests` (a user's mean snippet embedding) and
`chat_topic_weights` from the chats of the opted-in users passed in; the caller reads that set
from the control store's `user_settings.chat_personalization`. Both tables are rewritten whole,
so a user missing from the set has no row after a build.

`purge_opted_out` is the "kept never" half of hard rule 3: for every user not opted in it
deletes their raw chats, everything derived from them (interests, topic weights, user
embeddings that blended chat in) and the cached embeddings of their snippets' texts, in one
transaction. The cache entries go even if another table shares the text: the cache has no
owner column, and a re-embed costs less than keeping a vector of someone's private text.

Ids are matched as text (`CAST(user_id AS VARCHAR)`): the control store and the warehouse may
hand back the same id as an int or a string.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from features.content import (
    Progress,
    cache_embeddings,
    normalised_text_sql,
    transaction,
    weighted_sums,
)
from features.embeddings import Embedder

__all__ = [
    "ChatReport",
    "PurgeReport",
    "build_chat_interests",
    "purge_opted_out",
    "topic_centroids",
]

# Tables purge_opted_out deletes from, and which rows of a not-opted-in user go (SQL
# conditions on the table's own columns; the users to keep come from a registered view).
_PURGED: tuple[tuple[str, str], ...] = (
    ("chat_interests", "true"),
    ("chat_topic_weights", "true"),
    ("user_embeddings", "from_chat"),
    ("chats", "true"),
)


@dataclass(frozen=True)
class ChatReport:
    """Users with interests written, their snippets, texts newly embedded, topic-weight rows."""

    users: int
    snippets: int
    embedded: int
    topic_rows: int


@dataclass(frozen=True)
class PurgeReport:
    """Rows deleted per table; a table that does not exist yet counts 0."""

    deleted: dict[str, int]


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND database_name = "
        "current_database() AND schema_name = current_schema()", [table]).fetchall()[0][0])


@contextmanager
def _opted_in_view(con: duckdb.DuckDBPyConnection, opted_in: Iterable[object]) -> Iterator[None]:
    """`opted_in` as view `_opted_in(user_id VARCHAR)` for the duration of the block."""
    ids = sorted({str(u) for u in opted_in})
    con.register("_opted_in", pa.table({"user_id": pa.array(ids, pa.string())}))
    try:
        yield
    finally:
        con.unregister("_opted_in")


def topic_centroids(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    """Unit-length mean item embedding per `items.topic` (from `item_embeddings`); {} when no
    item has both a topic and an embedding."""
    if not _exists(con, "item_embeddings"):
        return {}
    dim = con.execute("SELECT array_length(embedding) FROM item_embeddings LIMIT 1").fetchall()
    if not dim:
        return {}
    topics, sums = weighted_sums(
        con, "SELECT i.topic AS owner, i.item_id AS vkey, 1.0 AS weight FROM items i "
        "WHERE i.topic IS NOT NULL",
        "SELECT item_id AS vkey, embedding FROM item_embeddings", int(dim[0][0]))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return {t: row / n for t, row, n in zip(topics.to_pylist(), sums, norms[:, 0]) if n > 0}


def _topic_weights(users: pa.Array, interests: np.ndarray,
                   topics: Mapping[str, np.ndarray]) -> pa.Table:
    """Positive cosine similarity to each topic centroid, scaled to sum to 1 per user (not a
    softmax: unrelated topics get exactly 0, and a user near no topic gets no rows)."""
    names = sorted(topics)
    centroids = np.stack([np.asarray(topics[t], dtype=np.float32) for t in names])
    if centroids.shape[1] != interests.shape[1]:
        raise ValueError(f"topic centroids have width {centroids.shape[1]}, chat embeddings "
                         f"{interests.shape[1]}")
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    sims = np.clip(interests @ (centroids / np.where(norms > 0, norms, 1)).T, 0, None)
    totals = sims.sum(axis=1, keepdims=True)
    weights = np.divide(sims, totals, out=np.zeros_like(sims), where=totals > 0)
    user_i, topic_i = np.nonzero(weights)
    return pa.table({"user_id": users.take(pa.array(user_i)),
                     "topic": pa.array([names[i] for i in topic_i], pa.string()),
                     "weight": weights[user_i, topic_i].astype(np.float64)})


def build_chat_interests(con: duckdb.DuckDBPyConnection, embedder: Embedder,
                         opted_in: Iterable[object],
                         topics: Mapping[str, np.ndarray] | None = None, *,
                         progress: Progress | None = None) -> ChatReport:
    """Rewrite `chat_interests` and `chat_topic_weights` from opted-in users' chats.

    A user's interest vector is the unit-length mean of their snippets' embeddings;
    `updated_at` is their newest snippet's time (data time, so reruns are reproducible).
    `topics=None` uses `topic_centroids(con)`; with no topics, no topic weights are written.
    A warehouse that has never ingested chats has nothing to build from: nothing is written.
    """
    dim = embedder.dim
    if not _exists(con, "chats"):
        return ChatReport(users=0, snippets=0, embedded=0, topic_rows=0)
    with _opted_in_view(con, opted_in):
        con.execute("CREATE OR REPLACE TEMP TABLE _chats AS SELECT c.user_id, c.ts, c.text, "
                    f"sha256({normalised_text_sql('c.text')}) AS content_hash FROM chats c "
                    "JOIN _opted_in o ON CAST(c.user_id AS VARCHAR) = o.user_id "
                    "WHERE c.text IS NOT NULL")
    embedded = cache_embeddings(con, embedder, "SELECT text FROM _chats", progress=progress)
    con.execute("CREATE OR REPLACE TEMP TABLE _chat_vectors AS SELECT content_hash AS vkey, "
                "embedding FROM embedding_cache WHERE model_id = ? AND content_hash IN "
                "(SELECT content_hash FROM _chats)", [embedder.model_id])
    users, sums = weighted_sums(
        con, "SELECT user_id AS owner, content_hash AS vkey, 1.0 AS weight FROM _chats",
        "SELECT * FROM _chat_vectors", dim)
    con.execute("DROP TABLE _chat_vectors")
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    interests = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    topics = topic_centroids(con) if topics is None else topics
    weights = _topic_weights(users, interests, topics) if topics else None
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(interests.ravel()), dim)
    con.register("_interests", pa.table({"user_id": users, "embedding": vectors}))
    with transaction(con):
        con.execute("DROP TABLE IF EXISTS chat_interests")
        # The vector width is part of the column type: an int, never a parameter.
        con.execute("CREATE TABLE chat_interests AS SELECT i.user_id, "
                    f"i.embedding::FLOAT[{int(dim)}] AS embedding, s.n_snippets, s.updated_at "
                    "FROM _interests i JOIN (SELECT user_id, count(*)::INTEGER AS n_snippets, "
                    "max(ts) AS updated_at FROM _chats GROUP BY user_id) s "
                    "ON s.user_id = i.user_id")
        con.execute("CREATE TABLE IF NOT EXISTS chat_topic_weights AS SELECT user_id, "
                    "NULL::VARCHAR AS topic, NULL::DOUBLE AS weight FROM chats WHERE false")
        con.execute("DELETE FROM chat_topic_weights")
        if weights is not None:
            con.register("_weights", weights)
            con.execute("INSERT INTO chat_topic_weights SELECT user_id, topic, weight "
                        "FROM _weights")
            con.unregister("_weights")
    con.unregister("_interests")
    snippets = con.execute("SELECT count(*) FROM _chats").fetchall()[0][0]
    con.execute("DROP TABLE _chats")
    return ChatReport(users=len(users), snippets=int(snippets), embedded=embedded,
                      topic_rows=0 if weights is None else weights.num_rows)


def purge_opted_out(con: duckdb.DuckDBPyConnection, opted_in: Iterable[object]) -> PurgeReport:
    """Delete every chat-derived row of each user not in `opted_in`, and their raw chats."""
    out = "CAST(user_id AS VARCHAR) NOT IN (SELECT user_id FROM _opted_in)"
    deleted: dict[str, int] = {}
    with _opted_in_view(con, opted_in), transaction(con):
        deleted["embedding_cache"] = 0
        if _exists(con, "chats") and _exists(con, "embedding_cache"):
            deleted["embedding_cache"] = con.execute(
                "DELETE FROM embedding_cache WHERE content_hash IN (SELECT "
                f"sha256({normalised_text_sql('text')}) FROM chats WHERE {out})").fetchall()[0][0]
        for table, rows in _PURGED:
            deleted[table] = (con.execute(f"DELETE FROM {table} WHERE {rows} AND {out}"
                                          ).fetchall()[0][0] if _exists(con, table) else 0)
    return PurgeReport(deleted={k: int(v) for k, v in deleted.items()})

"""Chat-history interests: built only for opted-in users, and purged without trace for the rest
(hard rule 3: used never, kept never)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import duckdb
import numpy as np
import polars as pl
import pytest

from features.chat import build_chat_interests, purge_opted_out, topic_centroids
from features.content import content_hash, embed_items, user_embeddings
from features.embeddings import HashingEmbedder

AS_OF = date(2026, 1, 10)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


class LookupEmbedder:
    """Fixed vectors per text, so similarities can be worked out by hand; an unexpected text
    fails the test instead of getting some vector."""

    model_id, dim = "lookup-3", 3

    def __init__(self, vectors: dict[str, Sequence[float]]) -> None:
        self.vectors = {k: _unit(v).astype(np.float32) for k, v in vectors.items()}
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.seen += texts
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 3))


def _con(id_type: str, items: list[tuple], chats: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("LOAD icu; SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE items (item_id VARCHAR, text VARCHAR, topic VARCHAR)")
    con.executemany("INSERT INTO items VALUES (?, ?, ?)", items)
    con.execute(f"CREATE TABLE chats (chat_id VARCHAR, user_id {id_type}, ts TIMESTAMPTZ, "
                "text VARCHAR)")
    con.executemany("INSERT INTO chats VALUES (?, ?, ?, ?)", chats)
    return con


def _at(day: int) -> datetime:
    return datetime(2026, 1, day, 12, tzinfo=UTC)


VECTORS = {
    "cat video": [1, 0, 0], "kitten": [1, 1, 0], "dog video": [0, 1, 0], "stocks": [0, 0, 1],
    "cats are great": [1, 0, 0], "cats and dogs": [1, 1, 0], "dogs rule": [0, 1, 0],
    "my secret": [0, 0, 1],
}
ITEMS = [("i1", "cat video", "cats"), ("i2", "kitten", "cats"), ("i3", "dog video", "dogs"),
         ("i4", "stocks", "finance")]
CHATS = [("c1", "A", _at(3), "cats are great"), ("c2", "A", _at(5), "cats and dogs"),
         ("c3", "B", _at(4), "dogs rule"), ("c4", "C", _at(4), "my secret")]


def test_interests_and_topic_weights_by_hand() -> None:
    con = _con("VARCHAR", ITEMS, CHATS)
    embedder = LookupEmbedder(VECTORS)
    embed_items(con, embedder)
    centroids = topic_centroids(con)
    assert sorted(centroids) == ["cats", "dogs", "finance"]
    np.testing.assert_allclose(centroids["cats"], _unit(_unit([1, 0, 0]) + _unit([1, 1, 0])),
                               atol=1e-6)
    axes = {"cats": np.eye(3)[0], "dogs": np.eye(3)[1], "finance": np.eye(3)[2]}
    report = build_chat_interests(con, embedder, ["A", "B"], topics=axes)
    assert (report.users, report.snippets, report.embedded, report.topic_rows) == (2, 3, 3, 3)
    assert "my secret" not in embedder.seen  # C never opted in: never even embedded
    rows = {u: (np.asarray(e), n, t) for u, e, n, t in con.sql(
        "SELECT user_id, embedding, n_snippets, updated_at FROM chat_interests").fetchall()}
    a = _unit(_unit([1, 0, 0]) + _unit([1, 1, 0]))  # [0.924, 0.383, 0]
    np.testing.assert_allclose(rows["A"][0], a, atol=1e-6)
    assert rows["A"][1:] == (2, _at(5)) and rows["B"][1:] == (1, _at(4))
    weights = con.sql("SELECT user_id, topic, weight FROM chat_topic_weights ORDER BY ALL"
                      ).fetchall()
    assert [(u, t) for u, t, _ in weights] == [("A", "cats"), ("A", "dogs"), ("B", "dogs")]
    np.testing.assert_allclose([w for *_, w in weights],
                               [a[0] / (a[0] + a[1]), a[1] / (a[0] + a[1]), 1.0], atol=1e-6)


def test_without_topics_no_weights_and_rebuild_drops_users_no_longer_opted_in() -> None:
    con = _con("VARCHAR", [(i, t, None) for i, t, _ in ITEMS], CHATS)
    embedder = LookupEmbedder(VECTORS)
    embed_items(con, embedder)
    assert topic_centroids(con) == {}
    assert build_chat_interests(con, embedder, ["A", "B"]).topic_rows == 0
    assert con.sql("SELECT count(*) FROM chat_topic_weights").fetchall() == [(0,)]
    build_chat_interests(con, embedder, pl.Series(["B"]))
    assert con.sql("SELECT user_id FROM chat_interests").fetchall() == [("B",)]
    assert build_chat_interests(con, embedder, []).users == 0
    assert con.sql("SELECT count(*) FROM chat_interests").fetchall() == [(0,)]


# The purge -------------------------------------------------------------------------------

def _daily(con: duckdb.DuckDBPyConnection, users: list) -> None:
    con.execute("CREATE TABLE engagement_daily AS SELECT DATE '2026-01-09' AS day, user_id, "
                "'i1' AS item_id, 1 AS impressions, 1 AS completes, 0 AS skips, 1 AS likes, "
                "0 AS comments, 0 AS shares, 0 AS remixes, 0 AS follows, 0 AS not_interested, "
                "0 AS reports, 1000::BIGINT AS watch_ms, 'US' AS country "
                "FROM (SELECT DISTINCT user_id FROM chats)")


def _rows_of(con: duckdb.DuckDBPyConnection, user) -> dict[str, list]:
    return {t: con.execute(f"SELECT * FROM {t} WHERE user_id = ? ORDER BY ALL", [user]
                           ).fetchall()
            for t in ("chats", "chat_interests", "chat_topic_weights", "user_embeddings")}


@pytest.mark.parametrize("id_type, a, b, c, opted", [
    ("VARCHAR", "A", "B", "C", lambda ids: list(ids)),
    # Warehouse ids are BIGINT; the control store hands them over as a polars Series.
    ("BIGINT", 1, 2, 3, lambda ids: pl.Series(ids, dtype=pl.Int64)),
])
def test_purge_leaves_nothing_derived_from_an_opted_out_users_chats(id_type, a, b, c, opted
                                                                    ) -> None:
    chats = [("c1", a, _at(3), "A's secret cat video plan"), ("c2", a, _at(5), "lol video"),
             ("c3", b, _at(4), "B wants a dog video"), ("c4", b, _at(6), "lol video"),
             ("c5", c, _at(4), "C never opted in")]
    con = _con(id_type, [(i, t, tp) for i, t, tp in ITEMS], chats)
    embedder = HashingEmbedder(16)
    embed_items(con, embedder)
    _daily(con, [a, b, c])
    build_chat_interests(con, embedder, opted([a, b]))
    user_embeddings(con, AS_OF, half_life_days=7, chat_weight=0.3, dim=16)
    a_vectors = [r[0] for r in con.execute("SELECT embedding FROM chat_interests WHERE "
                                           "user_id = ?", [a]).fetchall()]
    a_vectors += list(embedder.encode(["A's secret cat video plan", "lol video"]))
    a_topics = con.execute("SELECT count(*) FROM chat_topic_weights WHERE user_id = ?", [a]
                           ).fetchall()[0][0]
    b_before = _rows_of(con, b)
    assert all(b_before.values()) and a_topics > 0

    report = purge_opted_out(con, opted([b]))  # A opted out; C never opted in

    assert report.deleted == {"embedding_cache": 2, "chat_interests": 1,
                              "chat_topic_weights": a_topics, "user_embeddings": 1, "chats": 3}
    after = _rows_of(con, a)
    assert after["chats"] == after["chat_interests"] == after["chat_topic_weights"] == []
    assert con.execute("SELECT count(*) FROM chats WHERE user_id = ?", [c]).fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM user_embeddings WHERE user_id = ? AND from_chat",
                       [a]).fetchall() == [(0,)]
    hashes = [content_hash(t) for t in ("A's secret cat video plan", "lol video")]
    assert con.execute("SELECT count(*) FROM embedding_cache WHERE content_hash IN (?, ?)",
                       hashes).fetchall() == [(0,)]
    # No vector derived from A's chats survives in any vector column of any table.
    for table, column in con.sql("SELECT table_name, column_name FROM duckdb_columns() WHERE "
                                 "data_type LIKE 'FLOAT[%]'").fetchall():
        stored = np.asarray([r[0] for r in con.sql(f"SELECT {column} FROM {table}").fetchall()])
        for v in a_vectors:
            assert not np.isclose(stored, v, atol=1e-6).all(axis=1).any(), table
    assert _rows_of(con, b) == b_before  # the opted-in user is untouched

    # The next build recomputes A without chat; a second purge finds nothing.
    user_embeddings(con, AS_OF, half_life_days=7, chat_weight=0.3, dim=16)
    assert con.execute("SELECT from_chat FROM user_embeddings WHERE user_id = ?", [a]
                       ).fetchall() == [(False,)]
    assert set(purge_opted_out(con, opted([b])).deleted.values()) == {0}

"""Item embeddings cached by content hash, and user taste vectors on hand-computed cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import numpy as np
import pytest

from features.content import content_hash, embed_items, user_embeddings
from features.embeddings import HashingEmbedder

DIM = 16


class CountingEmbedder(HashingEmbedder):
    """The hashing double, recording every text it was asked to encode."""

    def __init__(self, dim: int = DIM) -> None:
        super().__init__(dim)
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return super().encode(texts)

    @property
    def encoded(self) -> int:
        return sum(len(c) for c in self.calls)


def _con(id_type: str = "VARCHAR") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("LOAD icu; SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE items (item_id {id_type}, text VARCHAR, topic VARCHAR)")
    return con


def _items(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.executemany("INSERT INTO items VALUES (?, ?, ?)", rows)


def _vector(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> np.ndarray:
    rows = con.execute(sql, params).fetchall()
    assert len(rows) == 1, rows
    return np.asarray(rows[0][0], dtype=np.float32)


@pytest.mark.parametrize("text", ["  a cat\t learns\n\nto skate  ", "caf\u00e9", "cafe\u0301",
                                  "\u00a0nbsp stays\u00a0", ""])
def test_python_content_hash_matches_the_sql_one(text: str) -> None:
    con = _con()
    _items(con, [("a", text, None)])
    embed_items(con, HashingEmbedder(DIM))
    assert con.sql("SELECT content_hash FROM item_embeddings").fetchall() == [
        (content_hash(text),)]


def test_only_uncached_texts_are_embedded_and_only_changed_items_rewritten() -> None:
    con = _con()
    _items(con, [("a", "a cat learns to skate", "cats"), ("b", "dance battle", "dance"),
                 ("c", "a  cat learns to skate ", "cats")])  # c normalises to a's text
    embedder, lines = CountingEmbedder(), []
    first = embed_items(con, embedder, progress=lines.append)
    assert (first.items, first.distinct_texts, first.embedded, first.items_written,
            first.items_removed) == (3, 2, 2, 3, 0)
    assert len(embedder.calls) == 1
    assert sorted(embedder.calls[0]) == ["a cat learns to skate", "dance battle"]
    assert lines and "2/2" in lines[-1]
    stored = _vector(con, "SELECT embedding FROM item_embeddings WHERE item_id = ?", ["c"])
    np.testing.assert_allclose(stored, embedder.encode(["a cat learns to skate"])[0], atol=1e-7)

    embedder.calls.clear()
    again = embed_items(con, embedder)
    assert embedder.encoded == 0
    assert (again.embedded, again.items_written, again.items_removed) == (0, 0, 0)

    con.execute("UPDATE items SET text = 'dance battle in the rain' WHERE item_id = 'b'")
    con.execute("UPDATE items SET text = 'a cat learns to skate' WHERE item_id = 'c'")  # same hash
    changed = embed_items(con, embedder)
    assert embedder.calls == [["dance battle in the rain"]]
    assert (changed.embedded, changed.items_written, changed.items_removed) == (1, 1, 1)

    con.execute("DELETE FROM items WHERE item_id = 'a'")
    gone = embed_items(con, embedder)
    assert (gone.embedded, gone.items_written, gone.items_removed) == (0, 0, 1)
    assert con.sql("SELECT item_id FROM item_embeddings ORDER BY 1").fetchall() == [("b",), ("c",)]


def test_a_new_model_re_embeds_everything_and_replaces_vectors_of_another_width() -> None:
    con = _con("BIGINT")
    _items(con, [(1, "a cat", None), (2, "a dog", None)])
    embed_items(con, HashingEmbedder(DIM))
    other = HashingEmbedder(DIM)
    other.model_id = "other-model"
    report = embed_items(con, other)  # same width, other model: every row is stale
    assert (report.embedded, report.items_written, report.items_removed) == (2, 2, 2)
    report = embed_items(con, HashingEmbedder(8))  # another width: the tables are rebuilt
    assert (report.embedded, report.items_written) == (2, 2)
    assert con.sql("SELECT DISTINCT model_id, typeof(item_id), typeof(embedding) "
                   "FROM item_embeddings").fetchall() == [("hashing-8", "BIGINT", "FLOAT[8]")]
    assert con.sql("SELECT DISTINCT model_id FROM embedding_cache").fetchall() == [("hashing-8",)]


# user embeddings -------------------------------------------------------------------------

AS_OF = date(2026, 1, 10)
COLS = ("completes", "skips", "likes", "comments", "shares", "remixes", "follows",
        "not_interested")


def _daily(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str, str, dict]]) -> None:
    con.execute("CREATE TABLE engagement_daily (day DATE, user_id VARCHAR, item_id VARCHAR, "
                "impressions INTEGER, completes INTEGER, skips INTEGER, likes INTEGER, "
                "comments INTEGER, shares INTEGER, remixes INTEGER, follows INTEGER, "
                "not_interested INTEGER, reports INTEGER, watch_ms BIGINT, country VARCHAR)")
    for day, user, item, counts in rows:
        con.execute("INSERT INTO engagement_daily VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "0, 1000, 'US')",
                    [date(2026, 1, day), user, item, *[counts.get(c, 0) for c in COLS]])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@pytest.fixture
def world() -> tuple[duckdb.DuckDBPyConnection, dict[str, np.ndarray], np.ndarray]:
    con = _con()
    texts = {"a": "cats on skateboards", "b": "ramen cooking", "c": "stock market news"}
    _items(con, [(k, t, None) for k, t in texts.items()])
    embedder = HashingEmbedder(DIM)
    embed_items(con, embedder)
    vec = {k: embedder.encode([t])[0] for k, t in texts.items()}
    _daily(con, [
        (9, "u1", "a", {"completes": 1, "likes": 1}),  # 3 points x 0.5 (1 day, half-life 1)
        (8, "u1", "b", {"shares": 1}),                 # 3 points x 0.25
        (9, "u1", "c", {"skips": 1}),                  # -0.25: dropped
        (10, "u1", "c", {"likes": 5}),                 # on as_of itself: not before it
        (9, "u2", "a", {"not_interested": 1}),         # only negative: no vector
        (9, "u4", "b", {"completes": 1}),
    ])
    chat = _unit(HashingEmbedder(DIM).encode(["I love cat videos"])[0])
    con.execute(f"CREATE TABLE chat_interests (user_id VARCHAR, embedding FLOAT[{DIM}], "
                "n_snippets INTEGER, updated_at TIMESTAMPTZ)")
    con.execute("INSERT INTO chat_interests VALUES ('u1', ?, 1, now()), ('u3', ?, 1, now())",
                [chat.tolist(), chat.tolist()])
    return con, vec, chat


def _users(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[np.ndarray, bool]]:
    rows = con.execute("SELECT user_id, embedding, from_chat FROM user_embeddings "
                       "WHERE as_of = ?", [AS_OF]).fetchall()
    return {u: (np.asarray(e, dtype=np.float32), f) for u, e, f in rows}


def test_user_vector_is_decayed_weighted_mean_blended_with_chat(world) -> None:
    con, vec, chat = world
    report = user_embeddings(con, AS_OF, half_life_days=1.0, chat_weight=0.3, dim=DIM)
    users = _users(con)
    assert (report.users, report.from_chat) == (3, 2) and set(users) == {"u1", "u3", "u4"}
    engaged = _unit((1.5 * vec["a"] + 0.75 * vec["b"]) / 2.25)
    np.testing.assert_allclose(users["u1"][0], _unit(0.7 * engaged + 0.3 * chat), atol=1e-6)
    np.testing.assert_allclose(users["u4"][0], _unit(vec["b"]), atol=1e-6)
    np.testing.assert_allclose(users["u3"][0], chat, atol=1e-6)  # chat only: cold start
    assert [users[u][1] for u in ("u1", "u3", "u4")] == [True, True, False]


def test_without_chat_weight_chat_is_not_used_and_reruns_replace_the_day(world) -> None:
    con, vec, _ = world
    user_embeddings(con, AS_OF, half_life_days=1.0, chat_weight=0.3, dim=DIM)
    report = user_embeddings(con, AS_OF, half_life_days=1.0, chat_weight=0.0, dim=DIM)
    users = _users(con)
    assert (report.users, report.from_chat) == (2, 0) and set(users) == {"u1", "u4"}
    np.testing.assert_allclose(users["u1"][0], _unit(1.5 * vec["a"] + 0.75 * vec["b"]),
                               atol=1e-6)
    with pytest.raises(ValueError, match="FLOAT\\[16\\]"):
        user_embeddings(con, AS_OF, half_life_days=1.0, chat_weight=0.0, dim=8)

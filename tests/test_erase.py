"""Erasing users from the warehouse: every row that names them, the items they made or
appear in and everything about those, their cached texts and quarantined records, in every
table; nothing of anyone else."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reelrank.erase import erase_from_warehouse
from reelrank.home import DataHome
from reelrank.ingest import ingest_directory
from reelrank.text_keys import content_hash
from tests.conftest import NOW, tiny_world, ts


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


def test_a_user_leaves_every_table(home: DataHome, tmp_path: Path) -> None:
    world = tiny_world(tmp_path / "w")
    pl.DataFrame({"chat_id": ["c1", "c2"], "user_id": ["u1", "u3"], "ts": [ts(5), ts(5)],
                  "text": ["u1 asks about ramen", "u3 asks about bikes"]}
                 ).write_parquet(world / "chats.parquet")
    (world / "follows.csv").write_text("follower_id,followee_id,created_at\n"
                                       "u2,u1,2026-01-02T00:00:00Z\nu2,u3,2026-01-02T00:00:00Z\n")
    ingest_directory(home, world, now=NOW)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "events.csv").write_text("event_id,user_id,item_id,event_type,ts,watch_ms,ip\n"
                                    "q1,u1,v1,teleport,2026-01-05T00:00:00Z,,\n"
                                    "q2,u2,v2,teleport,2026-01-05T00:00:00Z,,\n")
    ingest_directory(home, bad, now=NOW)
    with home.writing() as con:
        con.execute("CREATE TABLE embedding_cache (model_id VARCHAR, content_hash VARCHAR, "
                    "embedding FLOAT[2])")
        con.execute("CREATE TABLE item_embeddings (item_id VARCHAR, content_hash VARCHAR)")
        con.execute("INSERT INTO item_embeddings VALUES ('v1', ?), ('v2', ?)",
                    [content_hash("a cat learns to skateboard"),
                     content_hash("featuring @u1 cooking ramen")])
        for text in ("u1 asks about ramen", "u3 asks about bikes",
                     "a cat learns to skateboard", "featuring @u1 cooking ramen"):
            con.execute("INSERT INTO embedding_cache VALUES ('m', ?, [0, 0])",
                        [content_hash(text)])
        # u1 made v1 and appears in v2 (u3's): both go, and every event on them
        removed = erase_from_warehouse(con, ["u1"])
        assert removed["items"] == 2 and removed["users"] == 1
        assert _count(con, "SELECT count(*) FROM users WHERE user_id = 'u1'") == 0
        assert _count(con, "SELECT count(*) FROM items") == 0
        assert _count(con, "SELECT count(*) FROM events") == 0
        assert _count(con, "SELECT count(*) FROM chats") == 0  # u3's was never loaded
        assert _count(con, "SELECT count(*) FROM follows") == 1  # u2 -> u3 stays
        # u1's chat and the removed captions leave the cache; a text of nobody erased stays
        assert con.execute("SELECT content_hash FROM embedding_cache").fetchall() == [
            (content_hash("u3 asks about bikes"),)]
        # the quarantined record naming u1 goes, the one of u2 on v2 too (v2 is removed)
        assert _count(con, "SELECT count(*) FROM quarantine") == 0
        assert _count(con, "SELECT count(*) FROM users") == 2
        assert erase_from_warehouse(con, ["u1"]) == {}

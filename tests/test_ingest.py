"""Ingestion against the data contracts: bad records are named and quarantined, good
records are never lost with them, and re-ingest changes nothing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from reelrank.errors import ContractError, SchemaMismatchError
from reelrank.home import DataHome
from reelrank.ingest import ingest_directory
from tests.conftest import NOW, tiny_world


def _table(home: DataHome, sql: str) -> pl.DataFrame:
    con = home.warehouse(read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def _quarantine(home: DataHome) -> pl.DataFrame:
    return _table(home, "SELECT table_name, record_no, reason, record FROM quarantine "
                        "ORDER BY table_name, record_no")


def test_a_valid_world_loads_completely(home: DataHome, tmp_path: Path) -> None:
    report = ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    assert report.quarantined == 0
    assert {t.table: t.loaded for t in report.tables} == {
        "users": 3, "items": 2, "cameo_grants": 1, "user_settings": 2, "guardians": 1,
        "events": 4}
    events = _table(home, "SELECT event_id, country, region FROM events ORDER BY event_id")
    # The IP is resolved at ingest and not kept; a private address is an explicit unknown.
    assert events["country"].to_list() == ["US", "US", "unknown", "US"]
    assert events["region"][2] == "unknown"
    assert "ip" not in _table(home, "SELECT * FROM events LIMIT 0").columns


@pytest.mark.parametrize("ids", ["str", "int"])
def test_ids_come_back_exactly_as_they_came_in(tmp_path: Path, ids: str) -> None:
    home = DataHome.open(tmp_path / "h")
    ingest_directory(home, tiny_world(tmp_path / "w", ids=ids), now=NOW)
    items = _table(home, "SELECT item_id, creator_id, cameo_user_ids FROM items ORDER BY item_id")
    expected = pl.String if ids == "str" else pl.Int64
    assert items.schema["item_id"] == expected
    assert items.schema["cameo_user_ids"] == pl.List(expected)
    con = home.control()
    (owner,) = con.execute("SELECT owner_id FROM cameo_grants").fetchone()
    con.close()
    assert owner == ("u1" if ids == "str" else 1)


def test_reingest_is_a_no_op(home: DataHome, tmp_path: Path) -> None:
    world = tiny_world(tmp_path / "w")
    ingest_directory(home, world, now=NOW)
    before = _table(home, "SELECT * FROM events ORDER BY event_id")
    again = ingest_directory(home, world, now=NOW)
    assert again.loaded == 0
    assert again.table("events").unchanged == 4
    assert again.quarantined == 0
    assert _table(home, "SELECT * FROM events ORDER BY event_id").equals(before)


def test_reingesting_an_old_grant_does_not_undo_a_revocation(home: DataHome, tmp_path: Path
                                                             ) -> None:
    world = tiny_world(tmp_path / "w")
    ingest_directory(home, world, now=NOW)
    con = home.control()
    con.execute("UPDATE cameo_grants SET revoked_at = ?, updated_at = ?",
                ["2026-02-01T00:00:00.000000Z", "2026-02-01T00:00:00.000000Z"])
    con.close()
    ingest_directory(home, world, now=NOW)
    con = home.control()
    assert con.execute("SELECT revoked_at FROM cameo_grants").fetchall() == [
        ("2026-02-01T00:00:00.000000Z",)]
    con.close()


def _events_csv(path: Path, rows: list[str]) -> None:
    path.write_text("event_id,user_id,item_id,event_type,ts,watch_ms,ip\n" + "\n".join(rows)
                    + "\n")


def test_bad_records_are_quarantined_with_reasons_and_good_ones_load(
        home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    batch = tmp_path / "b"
    batch.mkdir()
    _events_csv(batch / "events.csv", [
        "g1,u1,v1,impression,2026-01-07T00:00:00Z,1200,8.8.4.4",      # good
        "b1,u1,v1,impression,yesterday,1200,8.8.4.4",                  # wrong type
        ",u1,v1,like,2026-01-07T00:00:00Z,,",                          # missing id
        "b3,u404,v1,like,2026-01-07T00:00:00Z,,",                      # unknown user
        "b4,u1,v404,like,2026-01-07T00:00:00Z,,",                      # unknown item
        "b5,u1,v1,like,2027-01-07T00:00:00Z,,",                        # future
        "b6,u1,v1,like,2026-01-07T00:00:00Z,,300.1.2.3",               # bad IP
        "b7,u1,v1,teleport,2026-01-07T00:00:00Z,,",                    # unknown type
        "b8,u1,v1,impression,2026-01-07T00:00:00Z,-5,",                # negative watch
        "g2,u2,v2,complete,2026-01-07T00:00:00Z,,10.0.0.1",            # good, private IP
    ])
    report = ingest_directory(home, batch, now=NOW)
    events = report.table("events")
    assert (events.read, events.loaded, events.quarantined) == (10, 2, 8)
    q = _quarantine(home)
    # A CSV record's number is the line it is on (the header is line 1).
    reasons = dict(zip(q["record_no"].to_list(), q["reason"].to_list()))
    assert reasons[3] == "field 'ts': yesterday is not a timestamp"
    assert reasons[4] == "field 'event_id' is missing"
    assert reasons[5] == "field 'user_id': unknown user u404"
    assert reasons[6] == "field 'item_id': unknown item v404"
    assert reasons[7].startswith("field 'ts': 2027-01-07") and "in the future" in reasons[7]
    assert reasons[8] == "field 'ip': 300.1.2.3 is not an IP address"
    assert reasons[9].startswith("field 'event_type': teleport is not one of impression")
    assert reasons[10] == "field 'watch_ms': -5 is below the minimum 0"
    # The quarantine row keeps the record as it arrived, except for its IP address.
    record = q.filter(pl.col("record_no") == 3)["record"].item()
    assert '"event_id":"b1"' in record and '"ip":"<ip redacted>"' in record
    assert not q["record"].str.contains("8.8.4.4", literal=True).any()
    loaded = _table(home, "SELECT event_id FROM events WHERE event_id LIKE 'g%' ORDER BY 1")
    assert loaded["event_id"].to_list() == ["g1", "g2"]


def test_duplicate_event_ids(home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    batch = tmp_path / "b"
    batch.mkdir()
    _events_csv(batch / "events.csv", [
        "d1,u1,v1,impression,2026-01-07T00:00:00Z,100,",
        "d1,u1,v1,impression,2026-01-07T00:00:00Z,100,",   # exact repeat: dropped quietly
        "d2,u1,v1,like,2026-01-07T00:00:00Z,,",
        "d2,u1,v2,like,2026-01-07T00:00:00Z,,",            # same id, other content
    ])
    report = ingest_directory(home, batch, now=NOW).table("events")
    assert (report.loaded, report.unchanged, report.quarantined) == (2, 1, 1)
    assert _quarantine(home)["reason"].item().startswith("duplicate key (event_id)")


def test_non_utf8_text_is_quarantined_per_record(home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    batch = tmp_path / "b"
    batch.mkdir()
    (batch / "items.csv").write_bytes(
        b"item_id,creator_id,created_at,text\n"
        b"v10,u1,2026-01-08T00:00:00Z,fine caption\n"
        b"v11,u1,2026-01-08T00:00:00Z,broken \xff\xfe caption\n")
    (batch / "chats.jsonl").write_bytes(
        b'{"chat_id": "c1", "user_id": "u1", "ts": "2026-01-08T00:00:00Z", "text": "hi"}\n'
        b'{"chat_id": "c2", "user_id": "u1", "ts": "2026-01-08T00:00:00Z", "text": "\xff"}\n'
        b"this is not json\n")
    report = ingest_directory(home, batch, now=NOW)
    assert (report.table("items").loaded, report.table("items").quarantined) == (1, 1)
    assert (report.table("chats").loaded, report.table("chats").quarantined) == (1, 2)
    reasons = _quarantine(home)["reason"].to_list()
    assert "field 'text' is not valid UTF-8" in reasons
    assert "line 2: record is not valid UTF-8" in reasons
    assert "line 3: record is not valid JSON (Expecting value)" in reasons


def test_a_missing_required_column_fails_the_file_by_name(home: DataHome, tmp_path: Path
                                                          ) -> None:
    batch = tmp_path / "b"
    batch.mkdir()
    pl.DataFrame({"user_id": ["u1"]}).write_parquet(batch / "users.parquet")
    with pytest.raises(ContractError, match=r"users.parquet: missing required column\(s\) "
                                            r"created_at"):
        ingest_directory(home, batch, now=NOW)


def test_an_id_type_change_is_refused(home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w", ids="str"), now=NOW)
    batch = tmp_path / "b"
    batch.mkdir()
    pl.DataFrame({"user_id": [7], "created_at": ["2026-01-01"]}).write_parquet(
        batch / "users.parquet")
    with pytest.raises(SchemaMismatchError, match="user ids as strings"):
        ingest_directory(home, batch, now=NOW)


def test_references_across_tables_and_self_checks(home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)
    batch = tmp_path / "b"
    batch.mkdir()
    pl.DataFrame({
        "follower_id": ["u1", "u2", "u9"], "followee_id": ["u1", "u3", "u1"],
        "created_at": ["2026-01-05"] * 3,
    }).write_parquet(batch / "follows.parquet")
    pl.DataFrame({
        "item_id": ["v20"], "creator_id": ["u1"], "created_at": ["2026-01-05"],
        "text": ["x"], "cameo_user_ids": [["u1", "u77"]],
    }).write_parquet(batch / "items.parquet")
    report = ingest_directory(home, batch, now=NOW)
    assert report.table("follows").loaded == 1
    reasons = set(_quarantine(home)["reason"].to_list())
    assert reasons == {
        "fields 'follower_id' and 'followee_id' must differ",
        "field 'follower_id': unknown user u9",
        "field 'cameo_user_ids': unknown user u77",
    }


class _FailingOnSecondCall:
    """A GeoIP resolver that crashes the ingest part-way, like a killed process would."""

    def __init__(self) -> None:
        self.calls = 0

    def locate(self, ips: pl.Series) -> pl.DataFrame:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("simulated crash")
        return pl.DataFrame({"country": ["US"] * len(ips), "region": ["US"] * len(ips)})


def test_an_interrupted_ingest_keeps_whole_batches_and_a_rerun_completes_it(
        home: DataHome, tmp_path: Path) -> None:
    world = tiny_world(tmp_path / "w")
    events = pl.read_parquet(world / "events.parquet")
    (world / "events.parquet").unlink()
    (world / "events").mkdir()
    events.head(2).write_parquet(world / "events" / "part-0.parquet")
    events.tail(2).write_parquet(world / "events" / "part-1.parquet")
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_directory(home, world, now=NOW, geo=_FailingOnSecondCall())
    assert _table(home, "SELECT count(*) AS n FROM events")["n"].item() == 2
    report = ingest_directory(home, world, now=NOW)
    assert (report.table("events").loaded, report.table("events").unchanged) == (2, 2)
    assert _table(home, "SELECT count(DISTINCT event_id) AS n, count(*) AS m FROM events"
                  ).row(0) == (4, 4)


def test_chats_of_users_without_chat_personalization_are_not_kept(
        home: DataHome, tmp_path: Path) -> None:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)   # u1 opted in, u3 not
    batch = tmp_path / "b"
    batch.mkdir()
    pl.DataFrame({
        "chat_id": ["c1", "c2", "c3"], "user_id": ["u1", "u3", "u2"],
        "ts": ["2026-01-08"] * 3, "text": ["kickflips", "my secret", "no setting at all"],
    }).write_parquet(batch / "chats.parquet")
    report = ingest_directory(home, batch, now=NOW).table("chats")
    assert (report.loaded, report.refused, report.quarantined) == (1, 2, 0)
    assert _table(home, "SELECT chat_id FROM chats")["chat_id"].to_list() == ["c1"]
    # Refused text is not parked in quarantine either.
    assert _quarantine(home).is_empty()

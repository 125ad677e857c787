"""Malformed text records: a ragged or misquoted CSV line, or a broken JSON Lines line, is
quarantined by line number with its reason while every good record of the file loads; what
quarantine keeps of it holds no IP address and no text of a chat user not opted in.

Everything runs through `ingest_directory` into a real home on disk."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from reelrank.errors import ContractError
from reelrank.home import DataHome
from reelrank.ingest import csv_reader, ingest_directory
from reelrank.ingest.readers import read_batches
from reelrank.ingest.redact import redact_ips
from tests.conftest import NOW, tiny_world

HEADER = "event_id,user_id,item_id,event_type,ts,watch_ms,ip"


def _rows(home: DataHome, sql: str) -> pl.DataFrame:
    con = home.warehouse(read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def _quarantine(home: DataHome, table: str) -> pl.DataFrame:
    return _rows(home, "SELECT record_no, reason, record FROM quarantine "
                       f"WHERE table_name = '{table}' ORDER BY source, record_no")


def _lines(*lines: str, end: str = "\n") -> str:
    return "\n".join(lines) + end


def _batch(tmp_path: Path, name: str, files: dict[str, str | bytes]) -> Path:
    batch = tmp_path / name
    batch.mkdir()
    for file, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (batch / file).write_bytes(data)
    return batch


@pytest.fixture
def world_home(home: DataHome, tmp_path: Path) -> DataHome:
    ingest_directory(home, tiny_world(tmp_path / "w"), now=NOW)   # u1..u3, v1, v2
    return home


def test_a_ragged_and_a_misquoted_csv_line_are_quarantined_and_the_rest_loads(
        world_home: DataHome, tmp_path: Path) -> None:
    csv = _lines(
        HEADER,                                                                   # line 1
        "g1,u1,v1,impression,2026-01-07T00:00:00Z,1200,8.8.4.4",                  # 2
        "r1,u1,v1,like,2026-01-07T00:00:00Z,,8.8.4.4,extra,fields",               # 3 ragged
        'g2,u2,v2,complete,2026-01-07T00:00:00Z,,"10.0.0.1"',                     # 4 quoted ok
        'm1,u1,"v1"x,like,2026-01-07T00:00:00Z,,',                                # 5 misquoted
        "g3,u3,v1,skip,2026-01-07T00:00:00Z,,",                                   # 6
    )
    report = ingest_directory(world_home, _batch(tmp_path, "b", {"events.csv": csv}), now=NOW)
    events = report.table("events")
    assert (events.read, events.loaded, events.quarantined) == (5, 3, 2)
    q = _quarantine(world_home, "events")
    assert q["record_no"].to_list() == [3, 5]
    assert q["reason"].to_list() == [
        "line 3: expected 7 fields, found 9",
        "line 5: misquoted: text follows a closing quote"]
    # Reasons are counted by problem, without the line number.
    assert events.reasons == {"expected 7 fields, found 9": 1,
                              "misquoted: text follows a closing quote": 1}
    loaded = _rows(world_home, "SELECT event_id FROM events WHERE event_id LIKE 'g%' ORDER BY 1")
    assert loaded["event_id"].to_list() == ["g1", "g2", "g3"]


def test_line_numbers_count_the_line_breaks_inside_quoted_fields(
        world_home: DataHome, tmp_path: Path) -> None:
    csv = _lines(
        "item_id,creator_id,created_at,text",                       # line 1
        'v10,u1,2026-01-08T00:00:00Z,"a caption',                    # 2, a field over 3 lines
        "over three",                                                # 3
        'lines, with a comma"',                                      # 4
        "v11,u1,2026-01-08T00:00:00Z",                               # 5 ragged
        'v12,u1,2026-01-08T00:00:00Z,"never closed',                 # 6 misquoted
        "v13,u1,2026-01-08T00:00:00Z,fine",                          # 7
        "",                                                          # 8 blank: no record
        'v14,u1,2026-01-08T00:00:00Z,"opened',                       # 9 misquoted
        "v15,u1,2026-01-08T00:00:00Z,swallowed?",                    # 10
        'v16,u1,2026-01-08T00:00:00Z,closed"',                       # 11
        "v17,u1,2026-01-08T00:00:00Z,last",                          # 12
        end="")   # and no line break at the end
    report = ingest_directory(world_home, _batch(tmp_path, "b", {"items.csv": csv}), now=NOW)
    assert (report.table("items").loaded, report.table("items").quarantined) == (5, 3)
    q = _quarantine(world_home, "items")
    assert q["record_no"].to_list() == [5, 6, 9]
    assert q["reason"].to_list() == [
        "line 5: expected 4 fields, found 3",
        # Its quote would close only at the one on line 9.
        ("line 6: misquoted: a quote opened here is not closed on this line (it runs into "
         "line 9)"),
        # Closed on line 11 with the right count, but line 10 inside it is a whole record:
        # the quote was left open, so only line 9 goes.
        ("line 9: misquoted: a quote opened here takes in line 10, which reads as a record "
         "of its own")]
    assert json.loads(q["record"][1]) == {"line": 'v12,u1,2026-01-08T00:00:00Z,"never closed'}
    texts = _rows(world_home, "SELECT item_id, text FROM items WHERE item_id LIKE 'v1_' "
                              "ORDER BY item_id")
    assert texts.rows() == [("v10", "a caption\nover three\nlines, with a comma"),
                            ("v13", "fine"), ("v15", "swallowed?"), ("v16", 'closed"'),
                            ("v17", "last")]


def test_a_quote_left_open_to_the_end_of_the_file_costs_only_its_line(
        world_home: DataHome, tmp_path: Path) -> None:
    csv = _lines(HEADER, 'o1,u1,v1,like,"2026-01-07T00:00:00Z,,',
                 "g1,u1,v1,like,2026-01-07T00:00:00Z,,")
    report = ingest_directory(world_home, _batch(tmp_path, "b", {"events.csv": csv}), now=NOW)
    assert (report.table("events").loaded, report.table("events").quarantined) == (1, 1)
    assert _quarantine(world_home, "events")["reason"].to_list() == [
        "line 2: misquoted: a quote opened here is never closed"]


def test_broken_json_lines_are_quarantined_by_line_and_the_rest_loads(
        world_home: DataHome, tmp_path: Path) -> None:
    good = {"event_id": "j1", "user_id": "u1", "item_id": "v1", "event_type": "like",
            "ts": "2026-01-07T00:00:00Z", "ip": "8.8.4.4"}
    lines = [
        json.dumps(good),                                                         # line 1
        '{"event_id": "j2", "user_id": "u1", "item_id": "v1", "ip": "8.8.4.4"',   # 2 cut off
        json.dumps({**good, "event_id": "j3", "cameo": [[1, 2]]}),                # 3
        "",                                                                       # 4 blank
        '["j4", "u1", "v1", "like", "2026-01-07T00:00:00Z", "9.9.9.9"]',          # 5 no object
        json.dumps({**good, "event_id": "j5"}),                                   # 6
    ]
    batch = _batch(tmp_path, "b", {"events.jsonl": "\n".join(lines) + "\n"})
    report = ingest_directory(world_home, batch, now=NOW).table("events")
    assert (report.read, report.loaded, report.quarantined) == (5, 3, 2)
    q = _quarantine(world_home, "events")
    assert q["record_no"].to_list() == [2, 5]
    assert q["reason"][0].startswith("line 2: record is not valid JSON (")
    assert q["reason"][1] == "line 5: record is not a JSON object"
    assert not q["record"].str.contains("8.8.4.4|9.9.9.9").any()
    loaded = _rows(world_home, "SELECT event_id FROM events WHERE event_id LIKE 'j%' ORDER BY 1")
    assert loaded["event_id"].to_list() == ["j1", "j3", "j5"]


def test_quarantine_keeps_no_ip_address_of_a_ragged_or_invalid_events_line(
        world_home: DataHome, tmp_path: Path) -> None:
    csv = _lines(
        HEADER,
        "r1,u1,v1,like,2026-01-07T00:00:00Z,,8.8.4.4,2001:4860:4860::8844",      # ragged
        "r2,u1,v1,like,2026-01-07T00:00:00Z",                                    # ragged
        'r3,u1,v1,"like"x,2026-01-07T00:00:00Z,,"9.9.9.9"',                      # misquoted
        "b1,u404,v1,like,2026-01-07T00:00:00Z,,1.1.1.1",                         # unknown user
        'b2,u1,v1,like,2026-01-07T00:00:00Z,,"8.8.8.8, 1.0.0.1"',                # two addresses
    )
    ingest_directory(world_home, _batch(tmp_path, "b", {"events.csv": csv}), now=NOW)
    q = _quarantine(world_home, "events")
    assert q["record_no"].to_list() == [2, 3, 4, 5, 6]
    for text in [*q["record"], *q["reason"]]:
        assert redact_ips(text) == text, text
        for address in ("8.8.4.4", "2001:4860:4860::8844", "9.9.9.9", "1.1.1.1", "8.8.8.8"):
            assert address not in text
    # What is not an address stays, so the record can still be fixed and re-sent.
    assert json.loads(q["record"][0]) == {
        "line": "r1,u1,v1,like,2026-01-07T00:00:00Z,,<ip redacted>,<ip redacted>"}
    assert json.loads(q["record"][3])["ip"] == "<ip redacted>"
    assert q["reason"][4] == "field 'ip': <ip redacted>, <ip redacted> is not an IP address"


def test_quarantine_keeps_no_chat_text_of_a_user_not_opted_in(
        world_home: DataHome, tmp_path: Path) -> None:
    """u1 has chat personalization on, u3 off, u2 never set it."""
    csv = _lines(
        "chat_id,user_id,ts,text",
        "c1,u1,not-a-time,u1 may keep this",           # bad, opted in: text kept
        "c2,u3,not-a-time,my secret",                  # bad, opted out: text withheld
        "c3,u2,not-a-time,no setting at all",          # bad, never opted in: withheld
        "c4,u3,2026-01-08T00:00:00Z,secret,with,commas",   # ragged: withheld whole
        'c5,u1,2026-01-08T00:00:00Z,"a "hidden" secret"',  # misquoted: withheld whole
    )
    jsonl = 'c6 {"chat_id": "c6", "user_id": "u3", "text": "json secret"}\n'
    batch = _batch(tmp_path, "b", {"chats.csv": csv, "chats.jsonl": jsonl})
    report = ingest_directory(world_home, batch, now=NOW).table("chats")
    assert (report.loaded, report.quarantined) == (0, 6)
    q = _quarantine(world_home, "chats")
    records = [json.loads(r) for r in q["record"]]
    assert records[0]["text"] == "u1 may keep this"
    assert records[1]["text"] == records[2]["text"] == "<withheld>"
    assert {r["text"] for r in records[3:]} == {"<withheld>"}
    assert sorted(r["line"] for r in records[3:]) == [1, 5, 6]
    dump = " ".join([*q["record"], *q["reason"]])
    for secret in ("my secret", "no setting", "secret,with", "hidden", "json secret"):
        assert secret not in dump


def test_a_malformed_line_on_either_side_of_a_batch_boundary(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Batches stay bounded, and a quoted record read across the look-ahead boundary keeps
    its line; no record is lost or read twice."""
    monkeypatch.setattr(csv_reader, "_CHUNK_LINES", 7)
    lines = ["a,b,c"] + [f"{n},x,y" for n in range(2, 2502)]
    lines[1500 - 1] = "1500,x"                         # ragged, in the second batch
    lines[15 - 1] = '15,"spans\ntwo lines",y'          # lines 15-16, across look-aheads
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    batches = list(read_batches(path, 1000))
    assert [b.frame.height + len(b.broken) for b in batches] == [1000, 1000, 500]
    numbers = pl.concat([b.frame["_line_no"] for b in batches]).to_list()
    # Line 16 is the second half of record 15, which moves the ragged line to 1501.
    assert numbers == [n for n in range(2, 2503) if n not in (16, 1501)]
    assert [b.broken for b in batches][1] == (
        (1501, "1500,x", "line 1501: expected 3 fields, found 2"),)
    spanning = batches[0].frame.filter(pl.col("_line_no") == 15)
    assert spanning["b"].item() == "spans\ntwo lines"


def test_a_header_that_cannot_be_read_fails_the_file_by_name(home: DataHome, tmp_path: Path
                                                             ) -> None:
    batch = _batch(tmp_path, "b", {"users.csv": 'user_id,"created_at\nu1,2026-01-01\n'})
    with pytest.raises(ContractError, match=r"users.csv: line 1: the header"):
        ingest_directory(home, batch, now=NOW)
    dup = _batch(tmp_path, "c", {"users.csv": "user_id,user_id\nu1,u2\n"})
    with pytest.raises(ContractError, match=r"repeats column\(s\) user_id"):
        ingest_directory(home, dup, now=NOW)

"""Privacy on disk: after full pipeline runs and an API session on a world whose events carry
IP addresses and whose chat log holds texts of users who are not opted in, no file under the
home holds any of those addresses or texts: not the landing area, not quarantine, not the
control store or its log, not the warehouse, not the snapshots, not Dagster's storage and
logs. Searched as bytes, and, for files that compress (Parquet, DuckDB), by their decoded
values too."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cli.runner import run_nightly
from pipelines.resources import EmbedderResource
from reelrank.home import DataHome
from reelrank.simulate import simulate
from tests.test_api_support import Server, token

IPV4 = re.compile(rb"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9])")
IPV6 = re.compile(rb"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}")
POSTED_V6 = "2001:4860:4860::8844"


def _secret(n: int) -> str:
    return f"opted out secret {n}: my dentist is on Elm Street"


def _world(tmp_path: Path, home: DataHome) -> tuple[set[str], list[str]]:
    """A synthetic world landed as two batches, plus malformed records with addresses in
    them and chats of users who never opted in; (its addresses, those texts)."""
    world = tmp_path / "world"
    simulate(world, users=150, days=8, seed=11)
    batch = home.dir("landing") / "a-world"
    shutil.copytree(world, batch, ignore=shutil.ignore_patterns("truth"))
    events = pl.read_parquet(world / "events" / "*.parquet")
    ips = set(events["ip"].drop_nulls().unique().to_list())
    settings = pl.read_parquet(world / "user_settings.parquet")
    opted_out = settings.filter(~pl.col("chat_personalization"))["user_id"].to_list()[:12]
    chats = pl.read_parquet(world / "chats.parquet")
    extra = pl.DataFrame({"chat_id": [f"x{n}" for n in range(len(opted_out))],
                          "user_id": opted_out,
                          "ts": [chats["ts"][0]] * len(opted_out),
                          "text": [_secret(n) for n in range(len(opted_out))]},
                         schema=chats.schema)
    pl.concat([chats, extra]).write_parquet(batch / "chats.parquet")
    late = home.dir("landing") / "b-late"
    late.mkdir()
    some = sorted(ips)[:4]
    user, item = events["user_id"][0], events["item_id"][0]
    (late / "events.csv").write_text(
        "event_id,user_id,item_id,event_type,ts,watch_ms,ip\n"
        f"q1,{user},{item},teleport,2026-01-03T00:00:00Z,,{some[0]}\n"        # bad value
        f"q2,{user},{item},like,2026-01-03T00:00:00Z,{some[1]},x,y\n"         # ragged
        f"q3,nobody,{item},like,2026-01-03T00:00:00Z,,{some[2]}\n"            # unknown user
        f"q4,{user},{item},like,2026-01-03T00:00:00Z,,{some[3]},{some[3]}\n")  # extra field
    (late / "chats.csv").write_text(
        "chat_id,user_id,ts,text\n"
        f'y1,{opted_out[0]},2026-01-03T00:00:00Z,"{_secret(100)}"\n'           # not opted in
        f'y2,{opted_out[1]},not-a-time,"{_secret(101)}"\n'                     # ... and bad
        f'y3,{opted_out[2]},2026-01-03,{_secret(102)},ragged\n')               # unreadable
    return ips, [_secret(n) for n in (*range(len(opted_out)), 100, 101, 102)]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _found_in_bytes(data: bytes, ips: set[str], texts: list[str]) -> set[str]:
    hits = {m.decode() for m in IPV4.findall(data)} | {m.decode() for m in IPV6.findall(data)}
    return (hits & ips) | {t for t in texts if t.encode() in data}


def _found_in_values(values: list[str], ips: set[str], texts: list[str]) -> set[str]:
    blob = "\n".join(v for v in values if v).encode()
    return _found_in_bytes(blob, ips, texts)


def _parquet_strings(path: Path) -> list[str]:
    frame = pl.read_parquet(path)
    out: list[str] = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            out += frame[name].drop_nulls().to_list()
        elif dtype == pl.List(pl.String):
            out += frame[name].explode().drop_nulls().to_list()
    return out


def _duckdb_strings(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: list[str] = []
        for table, column in con.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE data_type = 'VARCHAR' AND table_schema = 'main'").fetchall():
            out += [r[0] for r in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall()
                    if r[0] is not None]
        return out
    finally:
        con.close()


@pytest.mark.slow
def test_no_raw_ip_or_opted_out_chat_text_is_left_anywhere_under_the_home(
        tmp_path: Path) -> None:
    home = DataHome.open(tmp_path / "home")
    ips, texts = _world(tmp_path, home)
    first = run_nightly(home, embedder=EmbedderResource(backend="hashing"))
    assert first.success, first.render()
    latest = home.dir("snapshots") / "latest"
    items = pl.read_parquet(latest / "items.parquet")["item_id"].to_list()
    known = pl.read_parquet(latest / "users.parquet")["user_id"].to_list()
    control = home.control()
    opted_in = [r[0] for r in control.execute(
        "SELECT user_id FROM user_settings WHERE chat_personalization = 1 ORDER BY 1")]
    control.close()
    posted = sorted(ips)[:30]
    now = datetime.now(UTC)
    with Server(home, tmp_path / "server.log") as server:
        service = server.client(token(home, "service", "app"))
        batch = [{"event_id": f"api-{n}", "user_id": known[n % len(known)],
                  "item_id": items[n % len(items)], "event_type": "impression",
                  "ts": (now - timedelta(minutes=n)).isoformat(), "watch_ms": 900 + n,
                  "ip": ip} for n, ip in enumerate(posted)]
        assert service.post("/v1/events", json={"events": batch}).status_code == 200
        assert service.post("/v1/users", json={"user_id": "u-scan"}).status_code == 201
        assert service.post("/v1/events", json={"events": [
            {"event_id": "new-1", "user_id": "u-scan", "item_id": items[0],
             "event_type": "like", "ts": now.isoformat(), "ip": POSTED_V6}]}).status_code == 200
        refused = service.post("/v1/events", json={"events": [  # refused: nothing kept
            {**batch[0], "event_id": "bad-1", "event_type": "teleport", "ip": posted[0]}]})
        assert refused.status_code == 422
        # One user switches chat personalization off after their chats were loaded, one
        # erases their account.
        leaver = opted_in[0]
        assert service.put("/v1/me/settings", params={"user_id": leaver},
                           json={"chat_personalization": False}).status_code == 200
        assert service.delete(f"/v1/users/{opted_in[1]}").status_code == 200
        second = run_nightly(home, embedder=EmbedderResource(backend="hashing"))
        assert second.success, second.render()
    ips = ips | {POSTED_V6}
    # The chats of the user who switched off and of the one erased are opted-out texts too
    # (those no one who is still opted in also wrote: generated texts can repeat).
    chats = pl.read_parquet(tmp_path / "world" / "chats.parquet")
    gone = set(chats.filter(pl.col("user_id").is_in([leaver, opted_in[1]]))["text"])
    kept = set(chats.filter(~pl.col("user_id").is_in([leaver, opted_in[1]]))["text"])
    texts = [*texts, *sorted(gone - kept)]
    assert len(texts) > 15
    con = duckdb.connect(str(tmp_path / "left.duckdb"))
    try:
        con.execute("ATTACH ? AS w (READ_ONLY)", [str(home.warehouse_path)])
        (leaver_chats,) = con.execute("SELECT count(*) FROM w.chats WHERE user_id = ?",
                                      [leaver]).fetchall()[0]
    finally:
        con.close()
    assert leaver_chats == 0
    leaks: dict[str, set[str]] = {}
    for path in _files(home.root):
        found = _found_in_bytes(path.read_bytes(), ips, texts)
        if path.suffix == ".parquet":
            found |= _found_in_values(_parquet_strings(path), ips, texts)
        elif path.suffix == ".duckdb":
            found |= _found_in_values(_duckdb_strings(path), ips, texts)
        if found:
            leaks[str(path.relative_to(home.root))] = found
    assert not leaks, {k: sorted(v)[:3] for k, v in leaks.items()}
    # The search itself finds them where they are: in the world's own files.
    day = min((tmp_path / "world" / "events").iterdir())
    assert _found_in_values(_parquet_strings(day), ips, texts) & ips

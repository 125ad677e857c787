"""Importers: public log layouts become contract tables that load through ingestion.

Fixtures under tests/data/importers/ are small hand-written files in each real layout.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from reelrank.errors import ContractError, SchemaMismatchError
from reelrank.home import DataHome
from reelrank.importers import (
    ImportReport,
    import_interactions,
    import_kuairec,
    import_movielens,
)

DATA = Path(__file__).parent / "data" / "importers"
REAL_ML100K = Path(__file__).resolve().parents[2] / "shared/data/movielens-100k"


def _sql(home: DataHome, sql: str) -> pl.DataFrame:
    con = home.warehouse(read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def _events_of(home: DataHome) -> dict[tuple[object, object], set[str]]:
    """{(user, item): event types} over the whole events table."""
    rows = _sql(home, "SELECT user_id, item_id, event_type FROM events").rows()
    out: dict[tuple[object, object], set[str]] = {}
    for user, item, kind in rows:
        out.setdefault((user, item), set()).add(kind)
    return out


def _loaded(report: ImportReport) -> dict[str, int]:
    return {t.table: t.loaded for t in report.ingest.tables}


# MovieLens --------------------------------------------------------------------------------


def test_movielens_100k_layout(home: DataHome) -> None:
    report = import_movielens(home, DATA / "ml-100k")
    assert report.layout == "ml-100k"
    assert report.interactions == 6
    # Three raters and the nominal creator (0: MovieLens user ids start at 1).
    assert report.system_user == 0
    assert _loaded(report) == {"users": 4, "items": 4, "events": 15}
    assert report.ingest.quarantined == 0
    assert any("never rated" in note for note in report.notes)  # movie 5

    users = _sql(home, "SELECT * FROM users ORDER BY user_id")
    assert users.schema["user_id"] == pl.Int64
    assert users["user_id"].to_list() == [0, 1, 2, 3]
    # Absent signals stay absent: u.user has ages and zip codes, the import derives nothing.
    assert users["birth_year"].null_count() == 4 and users["country"].null_count() == 4
    assert users["created_at"][1] == datetime.fromtimestamp(881250949, UTC)

    items = _sql(home, "SELECT item_id, creator_id, text, topic FROM items ORDER BY item_id")
    assert items.schema["item_id"] == pl.Int64
    assert set(items["creator_id"]) == {0}
    assert items.rows() == [
        (1, 0, "Toy Story (1995) — Animation, Children's, Comedy", "Animation"),
        (2, 0, "GoldenEye (1995) — Action, Adventure, Thriller", "Action"),
        (3, 0, "Misérables, Les (1995) — Drama, War", "Drama"),  # latin-1 u.item
        (4, 0, "unknown", None),  # MovieLens's "unknown" genre is no topic
    ]


def test_movielens_ratings_map_to_nested_event_sets(home: DataHome) -> None:
    import_movielens(home, DATA / "ml-100k")
    events = _events_of(home)
    liked, ok, disliked = {"impression", "complete", "like"}, {"impression", "complete"}, {
        "impression", "skip"}
    assert events[(1, 1)] == liked  # 5 stars
    assert events[(1, 2)] == liked  # 4
    assert events[(3, 1)] == liked  # 4, at the same second as a 1-star rating
    assert events[(2, 1)] == ok  # 3
    assert events[(2, 3)] == disliked  # 2
    assert events[(3, 4)] == disliked  # 1
    ts = _sql(home, "SELECT DISTINCT ts FROM events WHERE user_id = 1 AND item_id = 1")
    assert ts["ts"].to_list() == [datetime.fromtimestamp(881250949, UTC)]  # exact, shared


def test_movielens_1m_layout_reads_latin1_and_colons(home: DataHome) -> None:
    report = import_movielens(home, DATA / "ml-1m")
    assert report.layout == "ml-1m"
    assert report.ingest.quarantined == 0
    texts = dict(_sql(home, "SELECT item_id, text FROM items").rows())
    assert texts[3952] == ("Cité des enfants perdus, La (City of Lost Children, The) (1995) "
                           "— Adventure, Sci-Fi")
    assert texts[260] == ("Star Wars: Episode IV - A New Hope (1977) — Action, Adventure, "
                          "Fantasy, Sci-Fi")
    assert _sql(home, "SELECT count(*) AS n FROM users")["n"][0] == 4  # 1, 2, 6 and 0
    assert _events_of(home)[(6, 260)] == {"impression", "skip"}


def test_movielens_latest_layout_half_stars(home: DataHome) -> None:
    report = import_movielens(home, DATA / "ml-latest")
    assert report.layout == "ml-latest"
    events = _events_of(home)
    assert events[(1, 1)] == {"impression", "complete", "like"}  # 4.5
    assert events[(1, 3)] == {"impression"}  # 2.5: neither liked nor disliked
    assert events[(2, 1)] == {"impression", "complete"}  # 3.5
    assert events[(2, 193609)] == {"impression", "skip"}  # 0.5
    topics = dict(_sql(home, "SELECT item_id, topic FROM items").rows())
    assert topics[193609] is None  # "(no genres listed)"


def test_movielens_layout_found_inside_an_unpacked_archive(home: DataHome, tmp_path: Path
                                                           ) -> None:
    shutil.copytree(DATA / "ml-100k", tmp_path / "download" / "ml-100k")
    assert import_movielens(home, tmp_path / "download").layout == "ml-100k"


def test_movielens_unknown_layout_is_a_clear_error(home: DataHome, tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no MovieLens layout"):
        import_movielens(home, tmp_path)


@pytest.mark.skipif(not REAL_ML100K.is_dir(), reason="shared MovieLens-100k data not present")
def test_real_movielens_100k(home: DataHome) -> None:
    report = import_movielens(home, REAL_ML100K)
    assert report.layout == "ml-100k"
    assert report.interactions == 100_000
    assert report.ingest.quarantined == 0
    counts = _sql(home, f"""
        SELECT (SELECT count(*) FROM users WHERE user_id <> {report.system_user}) AS users,
               (SELECT count(*) FROM items) AS items,
               (SELECT count(*) FROM events WHERE event_type = 'impression') AS impressions
    """).row(0)
    assert counts == (943, 1682, 100_000)


# KuaiRec ----------------------------------------------------------------------------------


def test_kuairec_layout(home: DataHome) -> None:
    report = import_kuairec(home, DATA / "kuairec")
    assert report.layout == "kuairec"
    assert report.interactions == 9  # 7 in big_matrix, 2 in small_matrix
    events = report.ingest.table("events")
    # 16 staged; the row with no time is quarantined (impression and skip), and the
    # interaction present in both matrices has the same ids in both, so it loads once.
    assert (events.read, events.loaded, events.unchanged, events.quarantined) == (16, 13, 1, 2)
    assert events.reasons == {"field 'ts' is missing": 2}

    users = _sql(home, "SELECT user_id FROM users ORDER BY user_id")["user_id"].to_list()
    # Viewers 0, 14, 19; authors 0, 1108, 3309 as -(a + 1); a nominal creator below them
    # for the video without an author (0 is a real KuaiRec user).
    assert users == [-3311, -3310, -1109, -1, 0, 14, 19]
    assert report.system_user == -3311

    items = {r[0]: r for r in _sql(home, "SELECT item_id, creator_id, created_at, text, "
                                         "round(duration_s, 3), topic FROM items").rows()}
    # Caption, category path and tag name; created on its upload day, before it was shown.
    caption = "精神小伙路难走 程哥你狗粮慢慢吃 — 颜值 > 颜值随拍 — 祝福"
    assert items[148][1:] == (-3310, datetime(2020, 3, 30, tzinfo=UTC), caption, 6.067, "颜值")
    first_seen = datetime.fromtimestamp(1593898068.378, UTC)
    # Uploaded after its first interaction (by the day's zone): the interaction dates it.
    assert items[183][1:] == (-1109, first_seen, "喜剧", 6.1, "喜剧")
    assert items[3649][1:] == (-3311, first_seen, "video in categories 5", 10.867, "category 5")
    assert items[9999][3:] == ("a short video", None, None)  # 0 ms duration stays unknown


def test_kuairec_identical_timestamps_keep_every_event(home: DataHome) -> None:
    import_kuairec(home, DATA / "kuairec")
    rows = _sql(home, "SELECT event_id, user_id, item_id, event_type, ts, watch_ms "
                      "FROM events ORDER BY event_id")
    same_second = rows.filter(pl.col("ts") == datetime.fromtimestamp(1593898068.378, UTC))
    # Three videos for user 14 and a repeated row for user 19, all in one millisecond.
    assert same_second.filter(pl.col("event_type") == "impression").height == 5
    assert rows["event_id"].is_unique().all()
    repeats = rows.filter((pl.col("user_id") == 19) & (pl.col("event_type") == "impression"))
    assert repeats["event_id"].to_list() == ["kuairec:19:148:1593898068378:0:impression",
                                             "kuairec:19:148:1593898068378:1:impression"]
    events = _events_of(home)
    assert events[(14, 148)] == {"impression"}  # watch ratio 0.72
    assert events[(14, 183)] == {"impression", "complete"}  # 1.91
    assert events[(14, 3649)] == {"impression", "complete", "like"}  # 2.06
    assert events[(19, 148)] == {"impression", "skip"}  # 0.20
    assert events[(0, 183)] == {"impression", "complete"}  # exactly 1.0
    assert events[(0, 9999)] == {"impression"}  # no watch ratio
    watch = rows.filter(pl.col("event_type") == "impression", pl.col("user_id") == 14)
    assert sorted(watch["watch_ms"]) == [4381, 11635, 22422]  # play_duration
    assert rows.filter(pl.col("event_type") != "impression")["watch_ms"].null_count() == 6


def test_kuairec_friendships_dated_at_the_end_of_the_log(home: DataHome) -> None:
    report = import_kuairec(home, DATA / "kuairec")
    friends = _sql(home, "SELECT user_a, user_b, created_at FROM friendships ORDER BY 1, 2")
    end = datetime.fromtimestamp(1593997200, UTC)
    assert friends.rows() == [(0, 14, end), (14, 19, end)]  # 7777 never interacted
    assert any("user_features.csv" in note for note in report.notes)


def test_kuairec_needs_a_matrix(home: DataHome, tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no KuaiRec matrix"):
        import_kuairec(home, tmp_path)


# Generic interaction logs -----------------------------------------------------------------


def test_generic_csv_with_string_ids(home: DataHome) -> None:
    report = import_interactions(home, DATA / "generic" / "interactions_str.csv")
    assert report.layout == "interactions"
    assert report.system_user == "__import__"
    assert report.ingest.quarantined == 0
    users = _sql(home, "SELECT user_id, created_at FROM users ORDER BY user_id")
    assert users.schema["user_id"] == pl.String
    assert users.rows() == [
        ("__import__", datetime(2026, 1, 5, 10, tzinfo=UTC)),
        ("alice", datetime(2026, 1, 5, 10, tzinfo=UTC)),
        ("bob", datetime(2026, 1, 6, 6, 30, tzinfo=UTC)),  # "+02:00" honoured
        ("carol", datetime(2026, 1, 7, tzinfo=UTC)),
    ]
    items = _sql(home, "SELECT item_id, creator_id, text FROM items ORDER BY item_id")
    assert items.schema["item_id"] == pl.String
    assert items.rows() == [("clip-2", "__import__", "item"), ("clip-3", "__import__", "item"),
                            ("clip:1", "__import__", "item")]
    events = _events_of(home)
    # Ratings 0-10, normalised by the top one: 10 and 8 liked, 6 complete, 5 neutral, 2 skip.
    assert events[("alice", "clip:1")] == {"impression", "complete", "like"}
    assert events[("carol", "clip-2")] == {"impression", "complete", "like"}
    assert events[("alice", "clip-2")] == {"impression", "complete"}
    assert events[("bob", "clip:1")] == {"impression"}
    assert events[("bob", "clip-3")] == {"impression", "skip"}


def test_generic_csv_with_int_ids_event_types_and_items(home: DataHome) -> None:
    report = import_interactions(home, DATA / "generic" / "interactions_int.csv",
                                 items=DATA / "generic" / "items_int.csv")
    assert report.ingest.quarantined == 0
    # Item 13 is listed but never watched: no creation time, not imported.
    assert any("no interaction" in note for note in report.notes)
    users = _sql(home, "SELECT user_id FROM users ORDER BY user_id")
    assert users.schema["user_id"] == pl.Int64
    # Viewers 1-3, creator 7 from the items file, nominal creator 0 for item 11.
    assert users["user_id"].to_list() == [0, 1, 2, 3, 7]
    items = _sql(home, "SELECT item_id, creator_id, text, topic FROM items ORDER BY item_id")
    assert items.rows() == [(10, 2, "a cat learns to skateboard", "pets"),
                            (11, 0, "ramen at midnight", "food"),
                            (12, 7, "sunrise timelapse", "nature")]
    events = _sql(home, "SELECT event_id, user_id, item_id, event_type FROM events "
                        "ORDER BY event_id")
    # Each row is its own event (no impression added); the repeated row stays two events.
    assert events.height == 7
    assert events.filter((pl.col("user_id") == 1) & (pl.col("event_type") == "impression")
                         )["event_id"].to_list() == ["ix:1:10:1767268800000000:0:impression",
                                                     "ix:1:10:1767268800000000:1:impression"]
    assert sorted(events["event_type"]) == ["impression"] * 4 + ["like", "share", "skip"]


def test_generic_parquet_with_datetimes_and_weights(home: DataHome, tmp_path: Path) -> None:
    path = tmp_path / "plays.parquet"
    pl.DataFrame({
        "user_id": [5, 5, 6, 6],
        "item_id": [1, 2, 1, 1],
        "timestamp": [datetime(2026, 1, 1, 9), datetime(2026, 1, 1, 9),
                      datetime(2026, 1, 2, 9), datetime(2026, 1, 2, 9)],
        "weight": [3.0, 0.0, 1.0, 1.0],
    }).write_parquet(path)
    report = import_interactions(home, path)
    assert any("weight <= 0" in note for note in report.notes)
    # Users 5, 6 and nominal 0; item 2's only row has weight 0, so it never existed here.
    assert _loaded(report) == {"users": 3, "items": 1, "events": 3}
    events = _sql(home, "SELECT user_id, item_id, event_type, ts FROM events ORDER BY 1, 2")
    assert events.rows() == [(5, 1, "impression", datetime(2026, 1, 1, 9, tzinfo=UTC)),
                             (6, 1, "impression", datetime(2026, 1, 2, 9, tzinfo=UTC)),
                             (6, 1, "impression", datetime(2026, 1, 2, 9, tzinfo=UTC))]


def test_generic_unreadable_timestamp_is_quarantined_by_name(home: DataHome, tmp_path: Path
                                                            ) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,timestamp\nu1,v1,2026-01-05T10:00:00Z\n"
                    "u1,v2,last tuesday\n")
    report = import_interactions(home, path)
    assert any("neither unix seconds nor ISO-8601" in note for note in report.notes)
    events = report.ingest.table("events")
    assert (events.loaded, events.quarantined) == (1, 1)
    assert events.reasons == {"field 'ts': last tuesday is not a timestamp": 1}


def test_generic_missing_timestamp_names_file_and_column(home: DataHome) -> None:
    path = DATA / "generic" / "no_timestamp.csv"
    with pytest.raises(ContractError, match=r"no_timestamp\.csv: missing required column\(s\) "
                                            r"timestamp"):
        import_interactions(home, path)
    assert not (home.root / "imports").exists() or not any((home.root / "imports").iterdir())


def test_generic_extra_or_ambiguous_columns_are_errors(home: DataHome, tmp_path: Path) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("user_id,item_id,timestamp,mood\n1,2,1767268800,happy\n")
    with pytest.raises(ContractError, match=r"extra\.csv: unexpected column\(s\) mood"):
        import_interactions(home, extra)
    both = tmp_path / "both.csv"
    both.write_text("user_id,item_id,timestamp,rating,weight\n1,2,1767268800,4,1\n")
    with pytest.raises(ContractError, match="rating and weight"):
        import_interactions(home, both)
    items = tmp_path / "items.csv"
    items.write_text("item_id,caption\n2,hello\n")
    good = DATA / "generic" / "interactions_int.csv"
    with pytest.raises(ContractError, match=r"items\.csv: missing required column\(s\) text"):
        import_interactions(home, good, items=items)


def test_nominal_creator_never_collides_with_a_real_user(home: DataHome, tmp_path: Path
                                                         ) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,timestamp\n0,1,1767268800\n3,1,1767268801\n")
    assert import_interactions(home, path).system_user == -1
    other = DataHome.open(tmp_path / "other")
    named = tmp_path / "named.csv"
    named.write_text("user_id,item_id,timestamp\n__import__,a,1767268800\n")
    assert import_interactions(other, named).system_user == "__import__2"


def test_future_events_are_quarantined_not_altered(home: DataHome) -> None:
    report = import_interactions(home, DATA / "generic" / "interactions_int.csv",
                                 now=datetime(2026, 1, 2, tzinfo=UTC))
    events = report.ingest.table("events")
    assert (events.loaded, events.quarantined) == (5, 2)  # the two on 2 January, 12:00
    assert all("in the future" in reason for reason in events.reasons)


def test_id_types_must_agree_with_the_home(home: DataHome) -> None:
    import_interactions(home, DATA / "generic" / "interactions_str.csv")
    with pytest.raises(SchemaMismatchError):
        import_movielens(home, DATA / "ml-100k")


# All layouts ------------------------------------------------------------------------------


@pytest.mark.parametrize("run", [
    lambda h: import_movielens(h, DATA / "ml-100k"),
    lambda h: import_kuairec(h, DATA / "kuairec"),
    lambda h: import_interactions(h, DATA / "generic" / "interactions_str.csv"),
    lambda h: import_interactions(h, DATA / "generic" / "interactions_int.csv",
                                  items=DATA / "generic" / "items_int.csv"),
], ids=["movielens", "kuairec", "generic-str", "generic-int"])
def test_reimport_loads_nothing_new(home: DataHome, run) -> None:
    first = run(home)
    before = _sql(home, "SELECT * FROM events ORDER BY event_id")
    second = run(home)
    assert _loaded(second) == {t: 0 for t in _loaded(first)}
    assert second.ingest.table("events").unchanged + second.ingest.table(
        "events").quarantined == first.written["events"]
    assert _sql(home, "SELECT * FROM events ORDER BY event_id").equals(before)
    # Each import keeps its own staging directory under HOME/imports, never landing/.
    assert first.staging != second.staging
    for report in (first, second):
        assert report.staging.parent == home.root / "imports"
        assert sorted(p.name for p in report.staging.iterdir()) == sorted(
            f"{t}.parquet" for t in report.written)
    assert not any(home.dir("landing").iterdir())


def test_the_stand_in_creator_is_recorded_so_ranking_does_not_cap_it(home, tmp_path) -> None:
    """A log without creators gets one nominal creator; the per-creator cap must not treat
    the whole catalog as one creator's videos."""
    import polars as pl

    from reelrank.importers import import_interactions

    log = tmp_path / "log.csv"
    pl.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 11, 10],
                  "timestamp": [1_600_000_000, 1_600_000_100, 1_600_000_200]}).write_csv(log)
    report = import_interactions(home, log)
    con = home.warehouse()
    try:
        rows = con.execute("SELECT user_id FROM stand_in_creators").fetchall()
    finally:
        con.close()
    assert rows == [(str(report.system_user),)]

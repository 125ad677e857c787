"""Tests of the synthetic world generator: contract, invariants, determinism, the oracle."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from reelrank.simulate import (
    SCHEMAS,
    TOPIC_NAMES,
    TruthModel,
    WorldConfig,
    expected_relevance,
    simulate,
    world_relevance,
)
from reelrank.simulate.truth import expected_grade, sigmoid, thresholds
from reelrank.simulate.vocab import TOPICS

START = datetime(2026, 1, 1, tzinfo=UTC)
USERS, DAYS, SEED = 300, 3, 11
END = START + timedelta(days=DAYS)
S, TS = pl.String, pl.Datetime("us", "UTC")

# The contract, written out independently of the package so a change there fails here.
CONTRACT = {
    "users.parquet": {"user_id": S, "created_at": TS, "birth_year": pl.Int16, "country": S},
    "items.parquet": {"item_id": S, "creator_id": S, "created_at": TS, "text": S,
                      "cameo_user_ids": pl.List(S), "duration_s": pl.Float32,
                      "safety_label": S, "remix_of": S, "topic": S},
    "follows.parquet": {"follower_id": S, "followee_id": S, "created_at": TS},
    "friendships.parquet": {"user_a": S, "user_b": S, "created_at": TS},
    "cameo_grants.parquet": {"owner_id": S, "grantee_id": S, "granted_at": TS,
                             "revoked_at": TS},
    "user_settings.parquet": {"user_id": S, "chat_personalization": pl.Boolean,
                              "updated_at": TS},
    "guardians.parquet": {"child_id": S, "guardian_id": S, "personalization": pl.Boolean,
                          "scroll_limit": pl.Int32, "dm_policy": S, "linked_at": TS},
    "chats.parquet": {"chat_id": S, "user_id": S, "ts": TS, "text": S},
    "truth/users.parquet": {"user_id": S, "interests": pl.List(pl.Float32),
                            "activity": pl.Float32},
    "truth/items.parquet": {"item_id": S, "topic": pl.Int32, "quality": pl.Float32},
}
EVENTS = {"event_id": S, "user_id": S, "item_id": S, "event_type": S, "ts": TS,
          "watch_ms": pl.Int32, "ip": S}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    lines: list[str] = []
    summary = simulate(out, users=USERS, days=DAYS, seed=SEED, progress=lines.append)
    assert any(line.startswith("events: day 3/3") for line in lines)
    assert all(path.exists() for path in summary.paths.values())
    assert summary.counts["users"] == USERS and summary.paths["events"].is_dir()
    return out


def read(world: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(world / name)


@pytest.fixture(scope="module")
def events(world: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted((world / "events").glob("day=*.parquet")))


def test_every_file_has_the_contract_schema(world: Path) -> None:
    for name, schema in CONTRACT.items():
        assert read(world, name).schema == pl.Schema(schema), name
    days = sorted(p.name for p in (world / "events").iterdir())
    assert days == [f"day=2026-01-0{d}.parquet" for d in (1, 2, 3)]
    for day in days:
        assert read(world, f"events/{day}").schema == pl.Schema(EVENTS)
    assert SCHEMAS["events"] == pl.Schema(EVENTS)


def test_manifest_counts_match_files(world: Path, events: pl.DataFrame) -> None:
    manifest = json.loads((world / "world.json").read_text())
    assert {k: manifest[k] for k in ("format", "seed", "users", "days")} == {
        "format": 1, "seed": SEED, "users": USERS, "days": DAYS}
    assert datetime.fromisoformat(manifest["start"]) == START
    assert manifest["counts"]["events"] == events.height
    assert manifest["counts"]["users"] == read(world, "users.parquet").height == USERS
    model = json.loads((world / "truth" / "model.json").read_text())
    assert model["topics"] == list(TOPIC_NAMES) and len(TOPIC_NAMES) == 24
    assert "sigmoid" in model["description"]


def test_same_seed_same_world_other_seed_differs(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    simulate(again, users=USERS, days=DAYS, seed=SEED)
    for name in [*CONTRACT, *(f"events/{p.name}" for p in (world / "events").iterdir())]:
        assert_frame_equal(read(world, name), read(again, name))
    for name in ("world.json", "truth/model.json"):
        assert (world / name).read_bytes() == (again / name).read_bytes()
    other = tmp_path / "other"
    simulate(other, users=USERS, days=DAYS, seed=SEED + 1)
    assert not read(world, "users.parquet").equals(read(other, "users.parquet"))
    assert not read(world, "events/day=2026-01-01.parquet").equals(
        read(other, "events/day=2026-01-01.parquet"))


def test_ids_are_unique_and_well_formed(world: Path, events: pl.DataFrame) -> None:
    users, items, chats = (read(world, f) for f in ("users.parquet", "items.parquet",
                                                    "chats.parquet"))
    assert users["user_id"].is_unique().all() and users["user_id"][0] == "u0000001"
    assert items["item_id"].is_unique().all() and items["item_id"][0] == "v0000001"
    assert events["event_id"].is_unique().all()
    assert events["event_id"].str.starts_with("e").all()
    assert chats["chat_id"].is_unique().all() and chats["chat_id"].str.starts_with("c").all()


def test_referential_integrity(world: Path, events: pl.DataFrame) -> None:
    user_ids = set(read(world, "users.parquet")["user_id"])
    items = read(world, "items.parquet")
    referenced = {
        "items.parquet": ["creator_id"], "follows.parquet": ["follower_id", "followee_id"],
        "friendships.parquet": ["user_a", "user_b"],
        "cameo_grants.parquet": ["owner_id", "grantee_id"], "user_settings.parquet": ["user_id"],
        "guardians.parquet": ["child_id", "guardian_id"], "chats.parquet": ["user_id"],
        "truth/users.parquet": ["user_id"],
    }
    for name, columns in referenced.items():
        for column in columns:
            assert set(read(world, name)[column]) <= user_ids, (name, column)
    assert set(items["cameo_user_ids"].explode().drop_nulls()) <= user_ids
    assert set(events["user_id"]) <= user_ids
    assert set(events["item_id"]) <= set(items["item_id"])
    assert set(items["remix_of"].drop_nulls()) <= set(items["item_id"])
    assert read(world, "truth/items.parquet")["item_id"].equals(items["item_id"])
    assert read(world, "user_settings.parquet").height == USERS


def test_no_timestamp_after_the_world_ends(world: Path, events: pl.DataFrame) -> None:
    columns = {"users.parquet": ["created_at"], "items.parquet": ["created_at"],
               "follows.parquet": ["created_at"], "friendships.parquet": ["created_at"],
               "cameo_grants.parquet": ["granted_at", "revoked_at"],
               "user_settings.parquet": ["updated_at"], "guardians.parquet": ["linked_at"],
               "chats.parquet": ["ts"]}
    for name, cols in columns.items():
        for col in cols:
            assert (read(world, name)[col].drop_nulls() <= END).all(), (name, col)
    assert events["ts"].max() < END and events["ts"].min() >= START
    for path in (world / "events").iterdir():
        day = datetime.fromisoformat(path.stem.removeprefix("day=")).date()
        assert (pl.read_parquet(path)["ts"].dt.date() == day).all()


def test_impressions_follow_creation_and_never_repeat(world: Path, events: pl.DataFrame
                                                      ) -> None:
    items = read(world, "items.parquet").select("item_id", "created_at", "creator_id")
    shown = events.filter(pl.col("event_type") == "impression").join(items, on="item_id")
    assert shown.height > 1000
    assert (shown["ts"] > shown["created_at"]).all()
    assert not shown.select(pl.struct("user_id", "item_id").is_duplicated().any()).item()
    assert (shown["user_id"] != shown["creator_id"]).all()
    assert shown["watch_ms"].null_count() == 0 and (shown["watch_ms"] >= 0).all()
    actions = events.filter(pl.col("event_type") != "impression")
    assert actions["watch_ms"].null_count() == actions.height
    first = shown.select("user_id", "item_id", pl.col("ts").alias("shown_at"))
    joined = actions.join(first, on=["user_id", "item_id"], how="left")
    assert joined["shown_at"].null_count() == 0 and (joined["ts"] > joined["shown_at"]).all()


def test_skip_and_complete_agree_with_watch_time(world: Path, events: pl.DataFrame) -> None:
    items = read(world, "items.parquet").select("item_id", "duration_s")
    shown = events.filter(pl.col("event_type") == "impression").join(items, on="item_id")
    flags = events.filter(pl.col("event_type").is_in(["skip", "complete"])).select(
        "user_id", "item_id", "event_type")
    for kind in ("skip", "complete"):
        shown = shown.join(flags.filter(pl.col("event_type") == kind)
                           .select("user_id", "item_id", pl.lit(True).alias(kind)),
                           on=["user_id", "item_id"], how="left")
    skipped = shown["skip"].fill_null(False)
    assert (skipped == (shown["watch_ms"] < 2000)).all()
    completed = shown["complete"].fill_null(False)
    assert (shown.filter(completed)["watch_ms"] >= 0.949 * 1000
            * shown.filter(completed)["duration_s"]).all()
    assert 0.2 < skipped.mean() < 0.6 and 0.05 < completed.mean() < 0.4


def test_item_text_carries_its_topic(world: Path) -> None:
    items = read(world, "items.parquet")
    assert items["text"].str.contains("\nprompt: ").all()
    assert items["text"].n_unique() > 0.9 * items.height
    for topic, text in items.select("topic", "text").iter_rows():
        words = TOPICS[TOPIC_NAMES.index(topic)]
        phrases = (*words.nouns, *words.actions, *words.places, *words.subjects)
        assert any(phrase in text for phrase in phrases), (topic, text)
    assert set(items["topic"]) <= set(TOPIC_NAMES)
    assert items["safety_label"].value_counts().sort("count")["safety_label"][-1] == "safe"


def test_friendships_and_grants_are_well_formed(world: Path) -> None:
    friends = read(world, "friendships.parquet")
    assert (friends["user_a"] < friends["user_b"]).all()
    assert not friends.select(pl.struct("user_a", "user_b").is_duplicated().any()).item()
    grants = read(world, "cameo_grants.parquet")
    revoked = grants.filter(pl.col("revoked_at").is_not_null())
    assert 0 < revoked.height < grants.height
    assert (revoked["revoked_at"] > revoked["granted_at"]).all()
    assert (grants["owner_id"] != grants["grantee_id"]).all()
    follows = read(world, "follows.parquet")
    assert not follows.select(pl.struct("follower_id", "followee_id").is_duplicated()
                              .any()).item()
    assert (follows["follower_id"] != follows["followee_id"]).all()


def test_cameos_only_use_people_who_granted_the_creator(world: Path) -> None:
    items = read(world, "items.parquet")
    grants = read(world, "cameo_grants.parquet")
    people = items.select("item_id", "creator_id", "created_at",
                          pl.col("cameo_user_ids").alias("person")).explode("person")
    people = people.drop_nulls("person")
    assert people.height > 0
    others = people.filter(pl.col("person") != pl.col("creator_id"))
    assert others.height > 0
    live = others.join(grants, left_on=["person", "creator_id"],
                       right_on=["owner_id", "grantee_id"], how="left").filter(
        (pl.col("granted_at") <= pl.col("created_at"))
        & (pl.col("revoked_at").is_null() | (pl.col("revoked_at") > pl.col("created_at"))))
    assert live.height == others.height
    for row in others.head(20).iter_rows(named=True):
        text = items.filter(pl.col("item_id") == row["item_id"])["text"].item()
        assert f"@{row['person']}" in text


def test_no_cameo_video_is_shown_after_a_participant_revoked(world: Path,
                                                            events: pl.DataFrame) -> None:
    items = read(world, "items.parquet")
    revoked = (items.select("item_id", "creator_id", pl.col("cameo_user_ids").alias("person"))
               .explode("person").drop_nulls("person")
               .join(read(world, "cameo_grants.parquet"), left_on=["person", "creator_id"],
                     right_on=["owner_id", "grantee_id"])
               .filter(pl.col("revoked_at").is_not_null())
               .group_by("item_id").agg(pl.col("revoked_at").min()))
    shown = events.filter(pl.col("event_type") == "impression").join(revoked, on="item_id")
    assert (shown["ts"] < shown["revoked_at"]).all()


def test_supervised_users_are_minors_with_adult_guardians(world: Path, events: pl.DataFrame
                                                          ) -> None:
    users = read(world, "users.parquet").with_columns(
        (START.year - pl.col("birth_year").cast(pl.Int32)).alias("age"))
    guardians = read(world, "guardians.parquet")
    assert guardians.height > 0 and guardians["child_id"].is_unique().all()
    ages = users.select("user_id", "age")
    linked = (guardians.join(ages.rename({"user_id": "child_id", "age": "child_age"}),
                             on="child_id")
              .join(ages.rename({"user_id": "guardian_id", "age": "guardian_age"}),
                    on="guardian_id"))
    assert linked["child_age"].is_between(13, 17).all()
    assert (linked["guardian_age"] >= 18).all()
    assert set(guardians["dm_policy"]) <= {"everyone", "friends", "nobody"}
    assert set(guardians["scroll_limit"].drop_nulls()) <= {60, 100, 200}
    assert users["age"].is_between(13, 70).all()
    minors = users.filter(pl.col("age") < 18).height / USERS
    assert 0.03 < minors < 0.15



def test_the_log_obeyed_parental_controls_and_safety_gates(world: Path, events: pl.DataFrame
                                                           ) -> None:
    guardians = read(world, "guardians.parquet")
    shown = events.filter(pl.col("event_type") == "impression").join(
        read(world, "items.parquet").select("item_id", "safety_label"), on="item_id")
    supervised = shown.join(guardians, left_on="user_id", right_on="child_id").filter(
        pl.col("ts") > pl.col("linked_at"))
    assert supervised.height > 0 and (supervised["safety_label"] == "safe").all()
    minors = read(world, "users.parquet").filter(START.year - pl.col("birth_year") < 18)
    to_minors = shown.join(minors, on="user_id")
    assert to_minors.height > 0 and (to_minors["safety_label"] != "unsafe").all()
    per_day = (shown.group_by("user_id", pl.col("ts").dt.date().alias("day")).len()
               .join(guardians.filter(pl.col("scroll_limit").is_not_null()),
                     left_on="user_id", right_on="child_id")
               .filter(pl.col("day") > pl.col("linked_at").dt.date()))
    assert per_day.height > 0 and (per_day["len"] <= per_day["scroll_limit"]).all()


def test_chats_only_for_opted_in_users(world: Path) -> None:
    settings = read(world, "user_settings.parquet")
    chats = read(world, "chats.parquet")
    opted = set(settings.filter(pl.col("chat_personalization"))["user_id"])
    assert set(chats["user_id"]) == opted
    assert 0.25 < len(opted) / USERS < 0.55
    assert chats.group_by("user_id").len()["len"].is_between(3, 10).all()
    assert (chats["ts"] >= START).all()


def test_ips_are_public_and_mostly_from_home(world: Path, events: pl.DataFrame) -> None:
    for ip in events["ip"].unique().to_list():
        address = ipaddress.ip_address(ip)
        assert address.version == 4 and address.is_global, ip
    iptocc = pytest.importorskip("iptocc")
    sample = events.unique("ip", keep="first").head(500).join(
        read(world, "users.parquet").select("user_id", "country"), on="user_id")
    located = iptocc.country_code(sample["ip"].to_list())
    assert None not in located
    home = np.mean([a == b for a, b in zip(located, sample["country"].to_list(), strict=True)])
    assert home > 0.9


def test_oracle_ranks_engaged_items_above_skipped(world: Path, events: pl.DataFrame) -> None:
    graded = events.filter(pl.col("event_type").is_in(["like", "complete", "skip"])).select(
        "user_id", "item_id", "event_type")
    scored = world_relevance(world, graded)
    assert scored["expected_relevance"].null_count() == 0
    means = scored.group_by("event_type").agg(pl.col("expected_relevance").mean())
    mean = dict(means.iter_rows())
    assert mean["like"] > mean["complete"] > mean["skip"] + 0.3


def test_oracle_is_pure_ordered_and_nulls_unknown() -> None:
    truth_users = pl.DataFrame({"user_id": ["u1", "u2"],
                                "interests": [[0.9, 0.1], [0.1, 0.9]]},
                               schema={"user_id": S, "interests": pl.List(pl.Float32)})
    truth_items = pl.DataFrame({"item_id": ["v1", "v2"], "topic": [0, 1],
                                "quality": [0.0, 0.0]},
                               schema={"item_id": S, "topic": pl.Int32, "quality": pl.Float32})
    users = pl.DataFrame({"user_id": ["u1", "u2", "c1"], "country": ["US", "BR", "US"]})
    items = pl.DataFrame({"item_id": ["v1", "v2"], "creator_id": ["c1", "c1"],
                          "duration_s": [15.0, 15.0]})
    no_follows = pl.DataFrame({"follower_id": [], "followee_id": [], "created_at": []},
                              schema={"follower_id": S, "followee_id": S, "created_at": TS})
    pairs = pl.DataFrame({"user_id": ["u1", "u1", "u2", "u9"], "item_id": ["v1", "v2", "v2", "v1"],
                          "tag": [1, 2, 3, 4]})
    args = (truth_users, truth_items, pairs)
    out = expected_relevance(*args, no_follows, users=users, items=items)
    assert out.columns == ["user_id", "item_id", "tag", "expected_relevance"]
    assert out["tag"].to_list() == [1, 2, 3, 4]
    rel = out["expected_relevance"].to_list()
    assert rel[3] is None and rel[0] > rel[1]  # u1 likes topic 0
    assert rel[0] > rel[2]  # same interest, but u1 shares the creator's country
    follows = no_follows.vstack(pl.DataFrame(
        {"follower_id": ["u1"], "followee_id": ["c1"], "created_at": [END]},
        schema=no_follows.schema))
    followed = expected_relevance(*args, follows, users=users, items=items)
    assert followed["expected_relevance"][1] > rel[1]
    before = expected_relevance(*args, follows, users=users, items=items, as_of=START)
    assert_frame_equal(before, out)


def test_expected_grade_matches_sampling_the_model() -> None:
    """The oracle's integral agrees with drawing outcomes the way the generator does."""
    model = TruthModel()
    rng = np.random.default_rng(0)
    n = 200_000
    for u, duration in ((-2.0, 8.0), (0.0, 15.0), (2.0, 30.0), (4.0, 60.0)):
        z = u + rng.logistic(0.0, model.noise_scale, n)
        z_skip, z_complete = thresholds(model, np.full(n, duration))
        watched = np.where(z < z_skip, 0, np.where(z >= z_complete, 2, 1))
        top = (rng.random(n) < model.share.prob(z)) | (rng.random(n) < model.remix.prob(z))
        liked = (rng.random(n) < model.like.prob(z)) | (rng.random(n) < model.comment.prob(z))
        grade = np.where(watched == 0, 0, np.where(top, 4, np.where(liked, 3, watched)))
        exact = expected_grade(model, np.array([u]), np.array([duration]))[0]
        assert abs(exact - grade.mean()) < 0.02, (u, exact, grade.mean())
    fraction = sigmoid(model.watch_slope * z_skip[0]) * 60.0
    assert fraction == pytest.approx(model.skip_watch_s)


def test_refuses_bad_arguments_and_non_empty_dirs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="users"):
        simulate(tmp_path / "a", users=1, days=1, seed=0)
    with pytest.raises(ValueError, match="timezone"):
        simulate(tmp_path / "b", users=10, days=1, seed=0, start=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="midnight"):
        simulate(tmp_path / "b", users=10, days=1, seed=0,
                 start=datetime(2026, 1, 1, 12, tzinfo=UTC))
    with pytest.raises(ValueError, match="minor_share"):
        WorldConfig(minor_share=1.5)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        simulate(tmp_path / "c", users=10, days=1, seed=0)
    simulate(tmp_path / "d", users=50, days=3, seed=0)
    simulate(tmp_path / "d", users=50, days=1, seed=0, overwrite=True)
    assert len(list((tmp_path / "d" / "events").iterdir())) == 1

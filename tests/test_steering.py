"""A person steers their own feed, over real HTTP on a synthetic world with known topics:
natural-language steering (`/v1/me/steering`: "more" at least doubles a topic's share of the
next page, "no" keeps it off the next three, "less" lowers it, removing the steering gives
back the page the feed would have served), mutes (`/v1/me/mutes`: a muted word never appears
in a served caption or prompt) and "see fewer like this" (`/v1/me/see-fewer`: halves that
topic's share). None of it is used for a supervised account with personalization off."""

from __future__ import annotations

import re
from collections import Counter

import polars as pl
import pytest

from ranking.snapshot.reader import ServingSnapshot
from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token

LIMIT = 20


@pytest.fixture(scope="module")
def server(live_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("steering-api")
    home = copy_home(live_home, root / "home")
    with Server(home, root / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def snap(server: Server) -> ServingSnapshot:
    return ServingSnapshot.load(server.home.dir("snapshots") / "latest")


@pytest.fixture(scope="module")
def adults(server: Server) -> list[object]:
    """Adults with a precomputed page, by id (each test takes its own slice)."""
    control = server.home.control()
    kids = {c for (c,) in control.execute("SELECT child_id FROM guardians")}
    control.close()
    feeds = pl.read_parquet(server.home.dir("feeds") / "latest" / "*.parquet")
    return sorted(u for u in feeds["user_id"].unique().to_list() if u not in kids)


class Person:
    def __init__(self, server: Server, user: object, **params: object) -> None:
        bearer = token(server.home, "service" if params else "user", "app" if params else user)
        self.client, self.params = server.client(bearer), params

    def page(self, limit: int = LIMIT) -> dict:
        answer = self.client.get("/v1/feed", params={"limit": limit, **self.params})
        assert answer.status_code == 200, answer.text
        return answer.json() | {"how": answer.headers["X-Reelrank-Feed"]}

    def steer(self, text: str) -> dict:
        answer = self.client.put("/v1/me/steering", params=self.params, json={"text": text})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def unsteer(self) -> None:
        answer = self.client.delete("/v1/me/steering", params=self.params)
        assert answer.status_code == 204, answer.text


def _ids(page: dict) -> list[object]:
    return [i["item_id"] for i in page["items"]]


def _names(snap: ServingSnapshot) -> dict[int, str]:
    return {code: name for name, code in snap.topic_code.items()}


def _topics(snap: ServingSnapshot, items: list[object]) -> list[str | None]:
    names = _names(snap)
    return [names.get(int(snap.item_topic[snap.row_of(i)])) for i in items]


def _share(snap: ServingSnapshot, items: list[object], topic: str) -> float:
    assert items
    return _topics(snap, items).count(topic) / len(items)


def test_more_at_least_doubles_a_topic_under_30_percent(server, snap, adults) -> None:
    checked = 0
    for user in adults[:5]:
        person = Person(server, user)
        first = _ids(person.page())
        counts = Counter(_topics(snap, first))
        # A topic the page shows, but little of: the least shown one.
        topic = min((t for t in counts if t is not None), key=lambda t: (counts[t], t))
        before = counts[topic] / len(first)
        assert before < 0.3
        answer = person.steer(f"more {topic}")
        assert answer["directions"] == [{"kind": "more", "phrase": topic, "weight": 1.0,
                                         "topic": topic}]
        page = person.page()
        assert page["how"] == "online"
        after = _share(snap, _ids(page), topic)
        assert after >= 2 * before, (user, topic, before, after)
        # Explained: what is of the topic asked for says so (a friend's clip by the
        # friendship, which comes first).
        reasons = {i["reason"] for i in page["items"]
                   if _topics(snap, [i["item_id"]])[0] == topic}
        assert f"because you asked for more {topic}" in reasons
        assert reasons <= {f"because you asked for more {topic}", "from people you follow"}
        person.unsteer()
        checked += 1
    assert checked == 5


def test_no_keeps_a_topic_off_the_next_three_pages(server, snap, adults) -> None:
    for user in adults[10:13]:
        person = Person(server, user)
        first = _ids(person.page())
        topic, shown = Counter(t for t in _topics(snap, first) if t).most_common(1)[0]
        person.steer(f"no {topic} please")
        served = [i for _ in range(3) for i in _ids(person.page())]
        assert len(served) == 3 * LIMIT
        assert _share(snap, served, topic) < 0.05, (user, topic, shown)
        person.unsteer()


def test_less_lowers_a_topic(server, snap, adults) -> None:
    for user in adults[20:23]:
        person = Person(server, user)
        first = _ids(person.page())
        topic, shown = Counter(t for t in _topics(snap, first) if t).most_common(1)[0]
        person.steer(f"less {topic}")
        assert _share(snap, _ids(person.page()), topic) < shown / len(first), (user, topic)
        person.unsteer()


def test_removing_the_steering_gives_back_the_page_it_replaced(server, snap, adults) -> None:
    user = adults[30]
    feeds = pl.read_parquet(server.home.dir("feeds") / "latest" / "*.parquet")
    batch = feeds.filter(pl.col("user_id") == user).sort("position")["item_id"].to_list()
    person = Person(server, user)
    topic = min(snap.topic_code)
    person.steer(f"more {topic}, no {max(snap.topic_code)}")
    steered = person.page()
    assert steered["how"] == "online"
    assert _ids(steered) != batch[:LIMIT]
    person.unsteer()
    assert person.client.get("/v1/me/steering").status_code == 404
    after = person.page()
    # The page the feed serves without steering: the batch's, less what was just served.
    assert after["how"] == "precomputed"
    assert _ids(after) == [i for i in batch if i not in set(_ids(steered))][:LIMIT]


def test_a_muted_word_never_appears_in_a_served_caption_or_prompt(server, snap,
                                                                 adults) -> None:
    user = adults[40]
    person = Person(server, user)
    texts = snap.texts_of([snap.row_of(i) for i in _ids(person.page())])
    words = Counter(w for t in texts for w in set(re.findall(r"[a-z]{5,}", t.split("\n")[0])))
    word = max(words, key=lambda w: (words[w], w))
    pattern = re.compile(rf"\b{word}\b", re.IGNORECASE)
    everywhere = sum(bool(pattern.search(t)) for t in snap.texts_of(range(snap.n_items)))
    assert everywhere >= 20, (word, everywhere)  # a word the catalog is full of
    answer = person.client.post("/v1/me/mutes", json={"words": [word.upper()]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["words"] == [word]
    served = [i for _ in range(3) for i in _ids(person.page())]
    tab = person.client.get("/v1/feed", params={"mode": "following", "limit": 50}).json()
    served += _ids(tab)
    assert len(served) >= 3 * LIMIT
    hits = [t for t in snap.texts_of([snap.row_of(i) for i in served]) if pattern.search(t)]
    assert hits == []
    assert person.client.delete(f"/v1/me/mutes/words/{word}").status_code == 204
    assert person.client.get("/v1/me/mutes").json()["words"] == []


def test_a_muted_topic_is_never_served(server, snap, adults) -> None:
    person = Person(server, adults[45])
    topic, _n = Counter(t for t in _topics(snap, _ids(person.page())) if t).most_common(1)[0]
    assert person.client.post("/v1/me/mutes", json={"topics": [topic]}).status_code == 200
    served = [i for _ in range(3) for i in _ids(person.page())]
    assert topic not in _topics(snap, served)


def test_see_fewer_halves_that_topics_share(server, snap, adults) -> None:
    before, after = [], []
    for user in adults[50:55]:
        person = Person(server, user)
        first = _ids(person.page())
        topic, shown = Counter(t for t in _topics(snap, first) if t).most_common(1)[0]
        item = next(i for i in first if _topics(snap, [i])[0] == topic)
        answer = person.client.post("/v1/me/see-fewer", json={"item_id": item})
        assert answer.status_code == 201, answer.text
        assert answer.json()["topic"] == topic
        assert answer.json()["creator_id"] == snap.creator_id_of(snap.row_of(item))
        before.append(shown / len(first))
        after.append(_share(snap, _ids(person.page()), topic))
        assert after[-1] <= before[-1] / 2, (user, topic, before[-1], after[-1])
    listed = person.client.get("/v1/me/mutes").json()["see_fewer"]
    assert [s["item_id"] for s in listed] == [item]


def test_a_supervised_account_without_personalization_is_not_steered(server, snap) -> None:
    """Two children of one country, personalization off, with the same first page: one
    steers away from and mutes that page's top topic, the other does nothing; their next
    pages are still the same (the country's ranking), each without what it already served
    its own child."""
    control = server.home.control()
    pairs = control.execute("SELECT child_id, guardian_id FROM guardians ORDER BY child_id"
                            ).fetchall()
    control.close()
    by_country: dict[str, list[tuple[object, object]]] = {}
    for child, guardian in pairs:
        by_country.setdefault(str(snap.user_country[snap.user_row[child]]), []).append(
            (child, guardian))
    service = server.client(token(server.home, "service", "app"))
    # Two children whose first pages agree (a child's own reports and blocks, safety, still
    # take items out of its own page).
    found = None
    for kids in (k for k in by_country.values() if len(k) >= 2):
        pages = {}
        for child, parent in kids:
            assert service.patch(f"/v1/guardian/children/{child}",
                                 params={"guardian_id": parent},
                                 json={"personalization": False}).status_code == 200
            pages[child] = _ids(Person(server, child, user_id=child).page())
        twins = [(a, b) for a in pages for b in pages if a != b and pages[a] == pages[b]]
        if twins:
            found, first = twins[0], pages[twins[0][0]]
            break
    assert found is not None, "no two children of one country with the same first page"
    person = Person(server, found[0], user_id=found[0])
    twin = Person(server, found[1], user_id=found[1])
    steered = found[0]
    topic = Counter(t for t in _topics(snap, first) if t).most_common(1)[0][0]
    answer = person.steer(f"no {topic}")
    assert answer["applied"] is False
    mute = service.post("/v1/me/mutes", params={"user_id": steered}, json={"topics": [topic]})
    assert mute.status_code == 200
    again = _ids(person.page())
    assert again == _ids(twin.page()) and not set(again) & set(first)


def test_bad_steering_is_refused_saying_what_was_understood(server, adults) -> None:
    client = server.client(token(server.home, "user", adults[60]))
    limit = server.home.settings.steering_max_chars
    for text, says in (("   ", "text: the text is empty"),
                       ("x" * (limit + 1), f"at most {limit}"),
                       ("whatever, I am bored",
                        "understood no direction in 'whatever', 'i am bored'")):
        answer = client.put("/v1/me/steering", json={"text": text})
        assert answer.status_code == 422, answer.text
        assert says in answer.json()["detail"]
        assert answer.json()["errors"][0]["loc"] == ["text"]
    assert client.get("/v1/me/steering").status_code == 404
    partly = client.put("/v1/me/steering", json={"text": "hmm, a bit less cooking"}).json()
    assert partly["ignored"] == ["hmm"]
    assert partly["directions"][0] | {"weight": 0.5} == partly["directions"][0]
    assert client.get("/v1/me/steering").json()["directions"] == partly["directions"]
    unknown = client.post("/v1/me/mutes", json={"topics": ["no-such-topic"]})
    assert unknown.status_code == 422 and "cooking" in unknown.json()["detail"]
    assert client.post("/v1/me/see-fewer", json={"item_id": "no-such-item"}).status_code \
        in (404, 422)



def test_a_muted_word_matches_todays_generations_too(snap) -> None:
    """A video made since the snapshot carries its text in the overlay: the same filter."""
    from dataclasses import replace
    from datetime import UTC, datetime

    import numpy as np

    from ranking.context import UserQuery
    from ranking.controls import UserControls
    from ranking.filters import muted_word
    from ranking.live import UserPolicy
    from ranking.snapshot.overlay import LiveItems
    from ranking.snapshot.view import view_of

    text = "my Ramen at midnight\nprompt: a chef making ramen"
    made = LiveItems.empty(snap, capacity=1).add(snap, [{
        "item_id": "g-today", "creator_id": snap.user_id_list[0],
        "created_at": datetime.now(UTC), "text": text, "cameo_user_ids": [],
        "duration_s": 8.0, "remix_of": None, "embedding": None, "safety_label": "safe"}])
    view = view_of(snap, made)
    rows = np.array([0, view.row_of("g-today")])
    assert rows[1] == snap.n_items
    assert view.texts_of(rows) == [snap.texts_of([0])[0], text]
    user = snap.user_id_list[1]
    query = UserQuery(user, 1, UserPolicy(user), None,
                      controls=UserControls(muted_words=("ramen",)))
    dropped = muted_word.drop(view, query, None, rows)
    assert dropped[1]
    first = snap.texts_of([0])[0]
    assert bool(dropped[0]) == bool(re.search(r"\bramen\b", first, re.IGNORECASE))
    part = replace(query, controls=UserControls(muted_words=("rame",)))  # whole words only
    assert not muted_word.drop(view, part, None, rows)[1]

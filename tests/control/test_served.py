"""Daily served counters, and the claim built on them: read then write inside `transaction`,
so concurrent claims never spend more than the limit."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from ranking.policy import UserPolicy, claim_served
from reelrank.control import Connection, connect
from reelrank.control.guardians import link, update_rules
from reelrank.control.served import add_served, served_on, served_today
from tests.control.conftest import NOW


def test_counts_add_up_per_user_and_day(con: Connection) -> None:
    add_served(con, "kid", "2026-05-01", 3)
    add_served(con, "kid", "2026-05-01", 4)
    add_served(con, "kid", "2026-05-02", 1)
    assert served_on(con, "kid", "2026-05-01") == 7
    assert served_on(con, "other", "2026-05-01") == 0
    assert served_today(con, ["kid", "other"], "2026-05-02") == {"kid": 1}


def test_two_threads_claiming_at_once_never_exceed_the_limit(store: Path | str, con: Connection
                                                             ) -> None:
    link(con, "mum", "kid", now=NOW)
    update_rules(con, "kid", {"scroll_limit": 25}, now=NOW)
    policy = UserPolicy("kid", supervised=True, daily_limit=25)
    granted: list[int] = []
    start = threading.Barrier(2)

    def scroll() -> None:
        own = connect(store)  # one connection per thread, as the API's pool hands them out
        try:
            start.wait()
            for _ in range(20):
                granted.append(claim_served(own, policy, 3, NOW))
        finally:
            own.close()

    threads = [threading.Thread(target=scroll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 40 claims of 3 against a limit of 25: exactly 25 served, the rest refused
    assert sum(granted) == 25 and served_on(con, "kid", "2026-05-01") == 25
    assert sorted(set(granted)) == [0, 1, 3]
    assert claim_served(con, policy, 3, NOW + timedelta(days=1)) == 3  # a new day

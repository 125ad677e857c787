"""Quotas and credits: the free daily allowance, charging only while demand is high, refusal on
an insufficient balance, refunds, no double charge, and a balance that never goes negative.

The policy under test (issue #6, `generation.pricing`): within the allowance a
generation is free; beyond it, it costs credits only while demand is high (queue depth or the
oldest queued wait over its threshold), and is still free while the queue keeps up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from generation.requests import generation_status, submit_generation
from generation.stubs import ScriptedBackend
from generation.worker import run_worker
from reelrank.control.connection import INTEGRITY_ERRORS
from reelrank.control.connection import connect as open_control
from reelrank.control.connection import stamp as iso
from reelrank.control.connection import transaction as immediate
from reelrank.control.credits import (
    CHARGE,
    REFUND,
    add_credits,
    balance,
    charge,
    charged_for,
    refund,
)
from reelrank.home import DataHome
from reelrank.settings import Settings
from tests.generation_world import register

START = datetime(2026, 3, 1, 9, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_home(tmp_path: Path, **overrides: object) -> DataHome:
    root = tmp_path / "home"
    home = DataHome.open(root, settings=Settings(home=root, **overrides))
    register(home)
    return home


def submit(home: DataHome, clock: Clock, requester: object = "u1", **kwargs: object):
    con = home.control()
    try:
        return submit_generation(con, home.settings, requester_id=requester,
                                 prompt=kwargs.pop("prompt", "a dog surfing"), clock=clock,
                                 **kwargs)
    finally:
        con.close()


def test_allowance_is_free_and_beyond_it_free_while_demand_is_normal(tmp_path: Path) -> None:
    home, clock = make_home(tmp_path, generation_free_per_day=2), Clock()
    reasons = [submit(home, clock).reason for _ in range(3)]
    assert reasons == ["free: generation 1 of 2/day", "free: generation 2 of 2/day",
                       "free: over free allowance 2/day, but demand is normal (2 queued)"]
    assert balance(home.control(), "u1") == 0


def test_high_queue_depth_charges_beyond_the_allowance(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_free_per_day=1, generation_busy_queue_depth=2,
                     generation_credit_cost=2)
    clock = Clock()
    add_credits(home.control(), "u1", 10, now=clock())
    for user in ("a", "b", "c"):  # other users fill the queue
        assert submit(home, clock, user).charged == 0
    assert submit(home, clock).charged == 0  # u1's free one
    result = submit(home, clock)
    assert result.as_dict() == {"request_id": result.request_id, "status": "queued",
                                "charged": 2,
                                "reason": "high demand: 4 queued > 2; over free allowance 1/day"}
    assert balance(home.control(), "u1") == 8
    assert generation_status(home.control(), result.request_id).charged == 2


def test_long_oldest_wait_charges_too(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_free_per_day=0, generation_busy_wait_s=60)
    clock = Clock()
    add_credits(home.control(), "u1", 5, now=clock())
    assert submit(home, clock, "other").charged == 0  # queue empty: not busy
    clock.now += timedelta(seconds=75)
    result = submit(home, clock)
    assert (result.charged, result.reason) == (
        1, "high demand: oldest queued waited 75s > 60s; over free allowance 0/day")


def test_insufficient_balance_is_refused_with_the_reason(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_free_per_day=0, generation_busy_queue_depth=0,
                     generation_credit_cost=3)
    clock = Clock()
    submit(home, clock, "other")
    add_credits(home.control(), "u1", 2, now=clock())
    result = submit(home, clock)
    assert result.status == "refused" and result.charged == 0
    assert result.reason == ("insufficient credits: balance 2 < cost 3 for user 'u1'; "
                             "high demand: 1 queued > 0; over free allowance 0/day")
    assert balance(home.control(), "u1") == 2


def test_refused_requests_do_not_use_the_allowance_and_it_resets_daily(tmp_path: Path) -> None:
    # The one queued request ages all day; the wait threshold is set so that is not "busy".
    home = make_home(tmp_path, generation_free_per_day=1, generation_busy_wait_s=86_400)
    clock = Clock()
    assert submit(home, clock, cameo_user_ids=["stranger"]).status == "refused"
    assert submit(home, clock).reason == "free: generation 1 of 1/day"
    clock.now = START.replace(hour=23, minute=59)
    assert submit(home, clock).reason.startswith("free: over free allowance")
    clock.now = START + timedelta(days=1)
    assert submit(home, clock).reason == "free: generation 1 of 1/day"


def test_failed_job_is_refunded_once(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_free_per_day=0, generation_busy_queue_depth=0,
                     generation_max_attempts=2, generation_backoff_s=0)
    clock = Clock()
    add_credits(home.control(), "u1", 1, now=clock())
    filler = submit(home, clock, "other")
    doomed = submit(home, clock, prompt="never works [fail=9]")
    assert doomed.charged == 1 and balance(home.control(), "u1") == 0
    outcomes = run_worker(home, once=True, backend=ScriptedBackend(), clock=clock)
    assert outcomes == {"done": 1, "queued": 1, "failed": 1}
    con = home.control()
    status = generation_status(con, doomed.request_id)
    assert (status.status, status.attempts, status.charged) == ("failed", 2, 0)
    assert status.reason == "failed after 2 attempts: scripted failure on attempt 2"
    assert generation_status(con, filler.request_id).status == "done"
    assert balance(con, "u1") == 1
    assert refund(con, doomed.request_id, now=clock()) == 0  # a second refund is a no-op
    assert con.execute("SELECT reason, delta FROM credit_ledger WHERE request_id = ? "
                       "ORDER BY entry_id", [doomed.request_id]).fetchall() == [
        (CHARGE, -1), (REFUND, 1)]


def test_no_double_charge_on_retry(tmp_path: Path) -> None:
    con, now = make_home(tmp_path).control(), START
    add_credits(con, "u1", 5, now=now, reference="pay-1")
    assert not add_credits(con, "u1", 5, now=now, reference="pay-1")  # retried top-up
    for _ in range(3):
        with immediate(con):
            assert charge(con, "u1", "r1", 2, now=now) == 2
    assert balance(con, "u1") == 3 and charged_for(con, "r1") == 2
    with pytest.raises(INTEGRITY_ERRORS, match="(?i)unique"):
        con.execute("INSERT INTO credit_ledger (user_id, delta, reason, request_id, created_at)"
                    " VALUES ('u1', -2, ?, 'r1', ?)", [CHARGE, iso(now)])
    assert refund(con, "r1", now=now) == 2 and refund(con, "r1", now=now) == 0
    assert balance(con, "u1") == 5 and charged_for(con, "r1") == 0
    with pytest.raises(RuntimeError, match="transaction"):
        charge(con, "u1", "r2", 1, now=now)


def test_resubmitted_request_is_not_charged_twice(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_free_per_day=0, generation_busy_queue_depth=0)
    clock = Clock()
    submit(home, clock, "other")
    add_credits(home.control(), "u1", 3, now=clock())
    first = submit(home, clock, request_id="k1")
    assert submit(home, clock, request_id="k1") == first
    assert first.charged == 1 and balance(home.control(), "u1") == 2


def test_the_store_keeps_the_ledger_append_only_and_non_negative(tmp_path: Path) -> None:
    con = make_home(tmp_path).control()
    add_credits(con, "u1", 1, now=START)
    for sql in ("UPDATE credit_ledger SET delta = 100", "DELETE FROM credit_ledger"):
        with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
            con.execute(sql)
    with pytest.raises(INTEGRITY_ERRORS, match="negative"):
        con.execute("INSERT INTO credit_ledger (user_id, delta, reason, request_id, created_at)"
                    " VALUES ('u1', -2, 'manual', NULL, ?)", [iso(START)])


OPS = st.lists(st.one_of(
    st.tuples(st.just("top-up"), st.integers(1, 4)),
    st.tuples(st.just("submit"), st.integers(0, 0)),
    st.tuples(st.sampled_from(["resubmit", "refund", "charge-again"]), st.integers(0, 30)),
), max_size=30)


@hyp_settings(max_examples=60, deadline=None)
@given(ops=OPS, cost=st.integers(1, 3))
def test_balance_never_negative_and_each_request_charged_at_most_once(ops, cost) -> None:
    settings = Settings(generation_free_per_day=0, generation_busy_queue_depth=0,
                        generation_credit_cost=cost)
    con, clock = open_control(Path(":memory:")), Clock()
    register(con)
    submit_generation(con, settings, requester_id="other", prompt="filler", clock=clock)
    expected, requests = 0, []
    for op, arg in ops:
        if op == "top-up":
            add_credits(con, "u1", arg, now=clock())
            expected += arg
        elif op == "submit":
            result = submit_generation(con, settings, requester_id="u1", prompt="p",
                                       request_id=f"r{len(requests)}", clock=clock)
            assert (result.status == "refused") == (expected < cost)
            expected -= result.charged
            requests.append(result)
        elif requests:
            first = requests[arg % len(requests)]
            if op == "resubmit":
                again = submit_generation(con, settings, requester_id="u1", prompt="p",
                                          request_id=first.request_id, clock=clock)
                assert again.charged == charged_for(con, first.request_id)
            elif op == "refund":
                expected += refund(con, first.request_id, now=clock())
            else:
                with immediate(con):
                    if first.charged:
                        assert charge(con, "u1", first.request_id, cost, now=clock()) == cost
        assert balance(con, "u1") == expected >= 0
    per_request = con.execute(
        "SELECT request_id, reason, count(*) FROM credit_ledger WHERE request_id IS NOT NULL "
        "GROUP BY 1, 2").fetchall()
    assert all(n == 1 for _, _, n in per_request)
    charged = {r for r, reason, _ in per_request if reason == CHARGE}
    assert {r for r, reason, _ in per_request if reason == REFUND} <= charged

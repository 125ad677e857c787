"""The generation worker: the procedural renderer, retries, leases, consent re-checked before
publishing, and real worker processes sharing one queue (killed mid-job, run side by side)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from features.embeddings import HashingEmbedder
from generation.backends import (
    BackendConfigError,
    RenderRequest,
    RenderResult,
    load_backend,
)
from generation.procedural import ProceduralRenderer
from generation.publish import Embedded, publish
from generation.queue import claim, retry_or_fail
from generation.requests import generation_status, submit_generation
from generation.stubs import ScriptedBackend
from generation.worker import run_worker
from reelrank.control.connection import stamp as iso
from reelrank.control.credits import add_credits, balance
from reelrank.control.items import new_generated_items
from reelrank.home import DataHome
from reelrank.settings import Settings

START = datetime(2026, 3, 1, 9, tzinfo=UTC)
SCRIPTED = "generation.stubs:ScriptedBackend"
REPO = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def make_home(tmp_path: Path, **overrides: object) -> DataHome:
    root = tmp_path / "home"
    return DataHome.open(root, settings=Settings(home=root, **overrides))


def submit(home: DataHome, prompt: str, requester: object = "u1", clock: Clock | None = None,
           **kwargs: object) -> str:
    con = home.control()
    try:
        return submit_generation(con, home.settings, requester_id=requester, prompt=prompt,
                                 clock=clock or Clock(), **kwargs).request_id
    finally:
        con.close()


def status(home: DataHome, request_id: str):
    return generation_status(home.control(), request_id)


def grant(home: DataHome, owner: str, grantee: str) -> None:
    home.control().execute(
        "INSERT INTO cameo_grants (owner_id, grantee_id, granted_at, updated_at) "
        "VALUES (?, ?, ?, ?)", [owner, grantee, iso(START), iso(START)])


def revoke(home: DataHome, owner: str, grantee: str) -> None:
    home.control().execute("UPDATE cameo_grants SET revoked_at = ?, updated_at = ? "
                           "WHERE owner_id = ? AND grantee_id = ?",
                           [iso(START), iso(START), owner, grantee])


# The procedural renderer and backend loading.

def test_procedural_renderer_writes_a_real_deterministic_clip(tmp_path: Path) -> None:
    renderer, outputs = ProceduralRenderer(), []
    for n, prompt in enumerate(["a cat on a skateboard", "a cat on a skateboard", "ramen"]):
        out = tmp_path / str(n)
        out.mkdir()
        result = renderer.render(RenderRequest(f"r{n}", prompt, (), None, 1), out, lambda: False)
        with Image.open(result.media_path) as clip:
            assert (clip.format, clip.size, clip.n_frames) == ("GIF", (160, 160), 24)
        with Image.open(result.thumbnail_path) as thumb:
            assert (thumb.format, thumb.size) == ("PNG", (160, 160))
        assert result.duration_s == pytest.approx(2.4)
        outputs.append((result.media_path.read_bytes(), result.thumbnail_path.read_bytes()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] != outputs[2][0] and outputs[0][1] != outputs[2][1]


def test_backends_load_by_name_or_dotted_path() -> None:
    assert isinstance(load_backend("procedural"), ProceduralRenderer)
    assert isinstance(load_backend(SCRIPTED), ScriptedBackend)
    for spec, message in [("nope.nothing:X", "cannot import"),
                          ("generation.stubs:Missing", "no class"),
                          ("reelrank.settings:Settings", "not a generation backend"),
                          ("no_colon", "module:Class")]:
        with pytest.raises(BackendConfigError, match=message):
            load_backend(spec)


# In-process worker: publishing, retries, consent re-checked.

def test_worker_publishes_media_embedding_and_item(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    request_id = submit(home, "a fox in the snow", cameo_user_ids=["u1"], remix_of="v1")
    assert run_worker(home, once=True, embedder=HashingEmbedder(384)) == {"done": 1}
    (item,) = new_generated_items(home.control())
    assert status(home, request_id).item_id == item["item_id"] == f"g-{request_id}"
    assert (item["creator_id"], item["text"], item["cameo_user_ids"], item["remix_of"]) == (
        "u1", "a fox in the snow", ["u1"], "v1")
    assert item["embedding"].shape == (384,) and item["embedding_model"] == "hashing-384"
    assert item["media_path"] == f"media/{request_id}/clip.gif"
    with Image.open(home.root / item["media_path"]) as clip:
        assert clip.n_frames == 24
    assert (home.root / item["thumbnail_path"]).is_file()
    assert sorted(p.name for p in home.dir("media").iterdir()) == [request_id]  # no staging left


def test_failures_retry_with_exponential_backoff(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_backoff_s=2, generation_max_attempts=3)
    clock = Clock()
    request_id = submit(home, "flaky [fail=2]")
    backend = ScriptedBackend()
    assert run_worker(home, once=True, backend=backend, clock=clock) == {"queued": 1}
    row = home.control().execute("SELECT not_before FROM generation_requests").fetchone()
    assert row == (iso(START + timedelta(seconds=2)),)
    assert status(home, request_id).reason == (
        "attempt 1 failed, retrying after 2s: scripted failure on attempt 1")
    clock.now += timedelta(seconds=1.9)
    assert run_worker(home, once=True, backend=backend, clock=clock) == {}  # not yet due
    clock.now += timedelta(seconds=0.1)
    assert run_worker(home, once=True, backend=backend, clock=clock) == {"queued": 1}
    assert home.control().execute("SELECT not_before FROM generation_requests").fetchone() == (
        iso(clock.now + timedelta(seconds=4)),)
    clock.now += timedelta(seconds=4)
    assert run_worker(home, once=True, backend=backend, clock=clock) == {"done": 1}
    assert status(home, request_id).attempts == 3


class CrashingBackend:
    name = "crashing"

    def render(self, request: RenderRequest, out_dir: Path, should_stop) -> RenderResult:
        raise ZeroDivisionError("model bug")


def test_a_crashing_backend_fails_the_attempt_not_the_worker(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_max_attempts=2, generation_backoff_s=0)
    request_id = submit(home, "anything")
    assert run_worker(home, once=True, backend=CrashingBackend()) == {"queued": 1, "failed": 1}
    assert status(home, request_id).reason == (
        "failed after 2 attempts: ZeroDivisionError: model bug")


def test_consent_revoked_before_claim_is_refused_without_rendering(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    grant(home, "u2", "u1")
    request_id = submit(home, "us two [fail=9]", cameo_user_ids=["u2"])
    revoke(home, "u2", "u1")
    assert run_worker(home, once=True, backend=ScriptedBackend()) == {"refused": 1}
    assert status(home, request_id).reason == "no live cameo consent from 'u2' to 'u1'"


class RevokingBackend(ScriptedBackend):
    """Renders, and while rendering the cameo's owner revokes the grant."""

    def __init__(self, home: DataHome) -> None:
        self.home = home

    def render(self, request: RenderRequest, out_dir: Path, should_stop) -> RenderResult:
        if "u2" in request.cameo_user_ids:
            revoke(self.home, "u2", "u1")
        return super().render(request, out_dir, should_stop)


def test_consent_revoked_mid_generation_means_no_publish_and_a_refund(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_free_per_day=0, generation_busy_queue_depth=0)
    grant(home, "u2", "u1")
    add_credits(home.control(), "u1", 1, now=START)
    submit(home, "filler", requester="other")
    request_id = submit(home, "us two", cameo_user_ids=["u2"])
    assert status(home, request_id).charged == 1
    outcomes = run_worker(home, once=True, backend=RevokingBackend(home))
    assert outcomes == {"done": 1, "refused": 1}
    after = status(home, request_id)
    assert (after.status, after.charged, after.item_id) == ("refused", 0, None)
    assert after.reason == ("consent withdrawn before publishing: no live cameo consent from "
                            "'u2' to 'u1'")
    assert balance(home.control(), "u1") == 1
    assert [i["creator_id"] for i in new_generated_items(home.control())] == ["other"]
    assert not (home.dir("media") / request_id).exists()


def test_a_stale_worker_can_change_nothing(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_lease_s=10, generation_max_attempts=2)
    clock, con = Clock(), home.control()
    request_id = submit(home, "contested")
    job_a = claim(con, home.settings, "A", clock())
    assert job_a is not None and claim(con, home.settings, "B", clock()) is None
    clock.now += timedelta(seconds=10)  # A's lease has run out
    job_b = claim(con, home.settings, "B", clock())
    assert job_b is not None and job_b.attempt == 2
    staged = home.dir("media") / "staged"
    staged.mkdir()
    result = ScriptedBackend().render(RenderRequest(request_id, "contested", (), None, 1),
                                      staged, lambda: False)
    assert publish(con, job_a, result, Embedded(None, None), home_root=home.root,
                   now=clock()) == "lost"
    assert retry_or_fail(con, home.settings, job_a, clock(), "late") == "lost"
    assert publish(con, job_b, result, Embedded(None, None), home_root=home.root,
                   now=clock()) == "done"
    assert len(new_generated_items(con)) == 1


def test_a_job_that_keeps_losing_its_worker_fails_and_is_refunded(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_lease_s=5, generation_max_attempts=2,
                     generation_free_per_day=0, generation_busy_queue_depth=0)
    clock, con = Clock(), home.control()
    add_credits(con, "u1", 1, now=START)
    later = Clock()
    later.now += timedelta(minutes=1)
    filler = submit(home, "filler", requester="other", clock=later)  # makes demand high
    request_id = submit(home, "poison", clock=clock)  # older than the filler: claimed first
    for worker in ("B", "C"):
        assert claim(con, home.settings, worker, clock()).request_id == request_id
        clock.now += timedelta(seconds=5)  # the worker dies; its lease expires
    assert claim(con, home.settings, "X", clock()).request_id == filler
    after = status(home, request_id)
    assert (after.status, after.charged) == ("failed", 0)
    assert after.reason == "worker lost on each of 2 attempts (lease expired)"
    assert balance(con, "u1") == 1


# Real worker processes.

def spawn(home: DataHome, log: Path, *args: str, lease_s: float = 1.0) -> subprocess.Popen:
    env = {**os.environ, "REELRANK_GENERATION_BACKEND": SCRIPTED,
           "REELRANK_GENERATION_LEASE_S": str(lease_s), "REELRANK_GENERATION_BACKOFF_S": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "generation", "--home", str(home.root),
         "--embedder", "hashing", "--poll-s", "0.05", *args],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


def lease_owner(home: DataHome, request_id: str) -> tuple:
    return home.control().execute(
        "SELECT status, lease_owner, attempts FROM generation_requests WHERE request_id = ?",
        [request_id]).fetchone()


def test_killed_worker_job_is_picked_up_after_its_lease_and_done_once(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    request_id = submit(home, "slow [sleep=3]")
    first = spawn(home, tmp_path / "a.log", "--worker-id", "A")
    second = None
    try:
        wait_for(lambda: lease_owner(home, request_id)[:2] == ("running", "A"), 20, "A claims")
        # A renders longer than its 1 s lease and keeps renewing: B, running alongside, must
        # not take the job meanwhile.
        second = spawn(home, tmp_path / "b.log", "--worker-id", "B")
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:
            assert lease_owner(home, request_id) == ("running", "A", 1)
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        wait_for(lambda: lease_owner(home, request_id)[1] == "B", 10, "B to reclaim the job")
        wait_for(lambda: lease_owner(home, request_id)[0] == "done", 20, "B to finish")
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=10)
        assert second.returncode == 0 and json.loads(out) == {"done": 1}
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert lease_owner(home, request_id) == ("done", None, 2)
    assert [i["request_id"] for i in new_generated_items(home.control())] == [request_id]


def test_sigterm_hands_the_job_in_hand_back_to_the_queue(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    request_id = submit(home, "very slow [sleep=60]")
    worker = spawn(home, tmp_path / "w.log", "--worker-id", "W")
    try:
        wait_for(lambda: lease_owner(home, request_id)[:2] == ("running", "W"), 20, "claim")
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0 and json.loads(out) == {"released": 1}
    assert lease_owner(home, request_id) == ("queued", None, 0)


def test_two_workers_run_200_jobs_each_exactly_once(tmp_path: Path) -> None:
    home = make_home(tmp_path, generation_busy_queue_depth=1_000)  # all free: none refused
    con = home.control()
    submitted = [submit_generation(con, home.settings, requester_id=f"u{n % 7}",
                                   prompt=f"job {n} [sleep=0.02]").request_id
                 for n in range(200)]
    workers = [spawn(home, tmp_path / f"w{n}.log", "--once", lease_s=5) for n in range(2)]
    outcomes = []
    try:
        for worker in workers:
            out, _ = worker.communicate(timeout=60)
            assert worker.returncode == 0, (tmp_path / "w0.log").read_text()[-2000:]
            outcomes.append(json.loads(out))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert sum(o.get("done", 0) for o in outcomes) == 200
    # Each job takes 20 ms, so neither worker can drain all 200 before the other starts.
    assert all(set(o) == {"done"} and o["done"] > 0 for o in outcomes)
    rows = con.execute("SELECT status, attempts, lease_owner, item_id, request_id "
                       "FROM generation_requests").fetchall()
    assert {r[:3] for r in rows} == {("done", 1, None)}
    items = new_generated_items(con)
    assert sorted(i["request_id"] for i in items) == sorted(submitted)
    assert sorted(i["item_id"] for i in items) == sorted(r[3] for r in rows)


def test_worker_cli_rejects_bad_arguments() -> None:
    from generation.cli import worker_main

    with pytest.raises(SystemExit):
        worker_main(["--poll-s", "0"])
    with pytest.raises(SystemExit):
        worker_main(["--embedder", "gpt"])


def test_stop_event_ends_an_idle_worker(tmp_path: Path) -> None:
    home, stop = make_home(tmp_path), threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    assert run_worker(home, poll_s=0.05, stop=stop) == {}

"""PostgreSQL for the tests of the control store's PostgreSQL backend.

`.ci/run` starts a throwaway server and exports `REELRANK_TEST_POSTGRES_URL`; without it
these fixtures start one of their own with the same script (`.ci/postgres`) for the session.
Each test gets a fresh schema on that server (a connection URL whose search_path names it),
dropped afterwards. Where no server can be started, the tests are skipped, except under CI,
where that fails the run: CI must prove both backends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "postgres"


def with_schema(url: str, schema: str) -> str:
    """`url` with its search_path set to `schema` (libpq's `options`)."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    url = os.environ.get("REELRANK_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    directory = tempfile.mkdtemp(prefix="reelrank-test-pg-")
    try:
        started = subprocess.run([str(SCRIPT), "start", directory], capture_output=True,
                                 text=True, timeout=120, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(directory, ignore_errors=True)
        detail = getattr(exc, "stderr", "") or exc
        if os.environ.get("CI"):
            pytest.fail(f"no PostgreSQL server for the control-store tests: {detail}")
        pytest.skip(f"no PostgreSQL server (run .ci/postgres install): {detail}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(SCRIPT), "stop", directory], capture_output=True, timeout=120,
                       check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL to a fresh, empty schema on the test server."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(postgres_server, schema)
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")

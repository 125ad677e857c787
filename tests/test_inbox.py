"""The event inbox keeps drained events only as long as retries need them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reelrank.control.inbox import accept_events
from reelrank.home import DataHome
from reelrank.inbox import drain_inbox

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
EVENT = {"event_id": "e-1", "user_id": "u1", "item_id": "v1", "event_type": "like",
         "ts": "2026-03-01T11:59:00Z"}


def _count(home: DataHome) -> int:
    control = home.control()
    try:
        return control.execute("SELECT count(*) FROM event_inbox").fetchone()[0]
    finally:
        control.close()


def test_drained_events_are_forgotten_after_the_retry_window(home: DataHome) -> None:
    control = home.control()
    assert accept_events(control, [EVENT], now=T0) == (1, 0)
    control.close()
    assert drain_inbox(home, now=T0) is not None
    control = home.control()
    assert accept_events(control, [EVENT], now=T0) == (0, 1)  # a retry: a duplicate
    control.close()
    keep = timedelta(days=home.settings.inbox_keep_days)
    assert drain_inbox(home, now=T0 + keep - timedelta(minutes=1)) is None
    assert _count(home) == 1
    assert drain_inbox(home, now=T0 + keep + timedelta(minutes=1)) is None
    assert _count(home) == 0
    control = home.control()
    assert accept_events(control, [EVENT], now=T0 + keep) == (1, 0)  # ingest dedups it
    control.close()

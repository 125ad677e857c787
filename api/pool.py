"""Control-store connections reused across requests.

Opening a connection per request is cheap, but closing the last open connection to a WAL
database checkpoints and removes the WAL file, and the next open recreates it: on a quiet
server every request would pay that I/O (about 15 ms here, against 2 ms for the feed page
itself). A pool keeps connections open; each is used by one request at a time (SQLite
connections are not shared concurrently, only handed from thread to thread). A PostgreSQL
connection the server dropped is not kept: the next request opens a new one.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager

from reelrank.control.connection import TRANSIENT_ERRORS, Connection, abandon
from reelrank.home import DataHome

__all__ = ["ControlPool"]


class ControlPool:
    def __init__(self, home: DataHome, keep: int) -> None:
        self.home = home
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue(maxsize=keep)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        try:
            con = self._idle.get_nowait()
        except queue.Empty:
            con = self.home.control()
        try:
            yield con
        finally:
            self._give_back(con)

    def _give_back(self, con: Connection) -> None:
        """Back to the pool if it is still good: not a PostgreSQL connection the server
        dropped, nor one whose failed transaction cannot even be rolled back."""
        if not getattr(con, "broken", False):
            try:
                abandon(con)  # a request that failed mid-transaction
                self._idle.put_nowait(con)
                return
            except (queue.Full, *TRANSIENT_ERRORS):
                pass
        con.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

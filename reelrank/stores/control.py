"""Old import path of the control store, kept only for `reelrank.ingest` until it imports
`reelrank.control` itself; new code imports `reelrank.control`, which owns the store."""

from reelrank.control.connection import connect as open_control
from reelrank.control.schema import CONTROL_MIGRATIONS
from reelrank.control.user_settings import chat_opted_in

__all__ = ["CONTROL_MIGRATIONS", "chat_opted_in", "open_control"]

"""Every knob of the session simulator, typed and bounded, in one place.

The behaviour itself comes from the world (its truth model and its session-length draw);
these say how many people play, how far they scroll, and the few behaviours the world's log
never needed (a video seen twice in a day, giving up after a run of skips).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MODES", "SessionConfig"]

#: `live`: through the API, reacting to posted events; `static`: the nightly lists alone.
MODES = ("live", "static")


@dataclass(frozen=True)
class SessionConfig:
    """One simulation run. Bounds are checked on construction."""

    users: int = 300                 # returning users: world users with events in the log
    new_users: int = 0               # world users with no event in the log, joining today
    pages: int = 10                  # most pages a person requests
    page_size: int = 20              # items per page requested (`limit`)
    seed: int = 7
    max_skip_run: int = 5            # a person stops after this many skips in a row; 0: never
    repeat_watch_ms: int = 300       # a video already seen today is flicked past this fast
    gap_s: float = 0.3               # least pause between videos (plus Exponential(1) s)
    sessions: int | None = None      # sessions a person opens today; None: the world's draw

    def __post_init__(self) -> None:
        for name, low, high in (("users", 0, 1_000_000), ("new_users", 0, 1_000_000),
                                ("pages", 1, 10_000), ("page_size", 1, 1_000),
                                ("max_skip_run", 0, 10_000),
                                ("repeat_watch_ms", 0, 86_400_000)):
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if self.sessions is not None and (isinstance(self.sessions, bool)
                                          or not isinstance(self.sessions, int)
                                          or not 1 <= self.sessions <= 48):
            raise ValueError(f"sessions must be an integer in [1, 48] (or None: the world's "
                             f"draw), got {self.sessions!r}")
        if self.users + self.new_users == 0:
            raise ValueError("nobody to simulate: users and new_users are both 0")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if not 0.0 <= self.gap_s <= 3_600.0:
            raise ValueError(f"gap_s must be in [0, 3600], got {self.gap_s}")

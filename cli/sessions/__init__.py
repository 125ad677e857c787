"""`reelrank simulate sessions`: a closed-loop session simulator.

The synthetic world's own users play against the real engine: each person requests pages
(the live API, or last night's precomputed lists), watches them video by video doing what the
world's hidden ground-truth model says they do, posts those events before asking for the
next page, and stops as the world's sessions stop. The report says, per page number and per
person, how the feed did, so a feed that reacts to swipes can be compared with a fixed list.

One module per concern: `config` (the knobs), `truth` (the world's model, read back),
`persons` (who plays, for how long, when), `feed` / `live` / `static` / `sandbox` (what they
scroll), `events` and `player` (one session), `metrics` (the numbers), `simulate` (the run),
`text` / `section` / `command` (what is printed, saved and rendered). Importing the package
imports nothing heavy.
"""

from __future__ import annotations

__all__: list[str] = []

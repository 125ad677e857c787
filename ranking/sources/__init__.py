"""Candidate sources: each takes the snapshot, the users' queries and the settings, and
returns one `Candidates` per query. Each says whether it fails open (a source that may
fail open logs, counts and returns nothing instead of failing the whole ranking) and
whether it is personal (uses per-user signal; skipped when personalization is off)."""

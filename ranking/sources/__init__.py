"""Candidate sources: each takes the context and returns (user_id, item_id, source,
source_score) rows. Each says whether it fails open: a source that may fail open logs,
counts and returns nothing instead of failing the whole ranking."""

"""How a text is keyed wherever it is cached by content: Unicode NFC, runs of ASCII
whitespace collapsed to one space, trimmed, then sha256. The embedding cache keys captions
and chat snippets so (`features.content`), and erasure finds a user's cached texts by the
same key (`reelrank.erase`). One definition, in SQL and in Python (a test holds the two
equal)."""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = ["content_hash", "normalised_text_sql"]

# ASCII whitespace, as escapes that RE2 and Python read alike; `normalised_text_sql` spells
# the same pattern inside its SQL text.
_WS = r"[ \t\n\r\f\v]+"


def content_hash(text: str) -> str:
    """Python twin of the SQL key, for single items embedded outside a batch run."""
    norm = re.sub(_WS, " ", unicodedata.normalize("NFC", text)).strip(" ")
    return hashlib.sha256(norm.encode()).hexdigest()


def normalised_text_sql(column: str) -> str:
    """SQL expression normalising `column` (a column name) exactly as `content_hash` does."""
    return (f"trim(regexp_replace(nfc_normalize({column}), "
            r"'[ \t\n\r\f\v]+', ' ', 'g'), ' ')")

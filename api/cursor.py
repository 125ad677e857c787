"""Feed cursors: signed, tied to the user and the snapshot they were issued under.

A cursor says how far a user has scrolled (`offset`), in which scroll (`scroll`: the first
request's id), under which snapshot, and when it was issued; it is signed with HMAC-SHA256 and
a key kept in `HOME/keys/cursor.key` (made on first use, readable by its owner only), so a
client can neither forge one nor use another user's. It stays valid across a snapshot hot
swap: the next page does not index into a list the swap replaced; it is ranked again,
without what was already served. A cursor older than `cursor_max_age_hours` is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from api.errors import InvalidInputError

__all__ = ["Cursor", "CursorKey"]

_SIG_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Cursor:
    user: str          # the user id as text
    offset: int        # items served in this scroll so far
    scroll: str        # the scroll's first request id
    snapshot: str      # the snapshot it was issued under
    issued_s: float
    mode: str = "for_you"   # the feed it scrolls (`GET /v1/feed?mode=`)
    after: tuple[float, str] | None = None  # following: (created_s, item id) of the last item


class CursorKey:
    """`keys_dir` None: a key of this object's own (cursors it signs die with it)."""

    def __init__(self, keys_dir: Path | None) -> None:
        self.key = (secrets.token_bytes(32) if keys_dir is None
                    else self._load(keys_dir / "cursor.key"))

    @staticmethod
    def _load(path: Path) -> bytes:
        try:
            return bytes.fromhex(path.read_text().strip())
        except FileNotFoundError:
            pass
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # the first writer wins; every process then reads its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return bytes.fromhex(path.read_text().strip())

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self.key, body, hashlib.sha256).digest()[:_SIG_BYTES]

    def encode(self, cursor: Cursor) -> str:
        fields = {"u": cursor.user, "o": cursor.offset, "c": cursor.scroll,
                  "s": cursor.snapshot, "t": round(cursor.issued_s, 3)}
        if cursor.mode != "for_you":
            fields["m"] = cursor.mode
        if cursor.after is not None:
            fields["a"] = [cursor.after[0], cursor.after[1]]
        body = json.dumps(fields, separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def decode(self, text: str, *, user: object, now_s: float, max_age_s: float,
               mode: str = "for_you") -> Cursor:
        """The cursor `text` names, or 422 (a cursor this server did not issue for this
        user and feed `mode`, or one too old)."""
        refused = InvalidInputError(f"cursor {text[:40]!r} is not one this server issued for "
                                    "this user", ("cursor",))
        try:
            body_text, sig_text = text.split(".", 1)
            body, sig = _unb64(body_text), _unb64(sig_text)
        except (ValueError, binascii.Error) as exc:
            raise refused from exc
        if not hmac.compare_digest(sig, self._sign(body)):
            raise refused
        try:
            data = json.loads(body)
            after = data.get("a")
            cursor = Cursor(str(data["u"]), int(data["o"]), str(data["c"]), str(data["s"]),
                            float(data["t"]), str(data.get("m", "for_you")),
                            None if after is None else (float(after[0]), str(after[1])))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise refused from exc
        if cursor.user != str(user) or cursor.offset < 0:
            raise refused
        if cursor.mode != mode:
            raise InvalidInputError(f"cursor {text[:40]!r} scrolls the {cursor.mode!r} feed, "
                                    f"not {mode!r}", ("cursor",))
        if now_s - cursor.issued_s > max_age_s:
            raise InvalidInputError(f"cursor {text[:40]!r} has expired; start again without "
                                    "one", ("cursor",))
        return cursor

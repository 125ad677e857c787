"""What quarantine may keep of a record: no raw IP address, no chat text of a user not opted in.

Quarantine keeps a bad record as it arrived, so that someone can fix and re-send it. Two
things must not survive even there: an event's IP address (the design keeps places, never
addresses, past ingestion) and a chat's text unless its user has chat personalization on
(hard rule 3: not used and not kept). A record that cannot even be split into fields gives no
reliable way to find its IP field, so every IP address anywhere in its text is replaced; a
chat record that cannot be read gives no reliable user, so its text is withheld whole.
"""

from __future__ import annotations

import ipaddress
import json
import re

__all__ = ["IP_REDACTED", "WITHHELD", "redact_ips", "withheld_record"]

IP_REDACTED = "<ip redacted>"
WITHHELD = "<withheld>"

# Dotted quads (octets checked below, leading zeros allowed: "010.0.0.1" is still an
# address to someone), and runs of hex digits, colons and dots with at least two colons
# (IPv6, possibly with an IPv4 tail), checked by `ipaddress`.
_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")
_IPV6 = re.compile(r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


def _ipv4(match: re.Match[str]) -> str:
    octets = match.group(0).split(".")
    return IP_REDACTED if all(int(o) <= 255 for o in octets) else match.group(0)


def _ipv6(match: re.Match[str]) -> str:
    token = match.group(0)
    # A run may take in a separator it touches ("ip:2001:db8::1", "...::1." ending a sentence).
    lead, trail = len(token) - len(token.lstrip(":.")), len(token.rstrip(":."))
    for start, end in ((0, len(token)), (lead, len(token)), (0, trail), (lead, trail)):
        try:
            ipaddress.IPv6Address(token[start:end])
        except ValueError:
            continue
        return token[:start] + IP_REDACTED + token[end:]
    return _IPV4.sub(_ipv4, token)


def redact_ips(text: str) -> str:
    """`text` with every IPv4 and IPv6 address in it replaced by `IP_REDACTED`."""
    return _IPV4.sub(_ipv4, _IPV6.sub(_ipv6, text))


def withheld_record(line_no: int, reason: str) -> str:
    """The quarantine record of a chat line that could not be read: where and why, no text."""
    return json.dumps({"line": line_no, "text": WITHHELD, "reason": reason})

"""Whether a generation may be made: everyone it names exists, the item it remixes exists,
and everyone whose likeness it uses consents.

Asked at submission and again by the worker before it renders (`check_request`); consent
alone is asked once more inside the publishing transaction. Who and what exists is
`ranking.directory`'s answer (the serving snapshot, and the control store for what came
since); the consent rule lives in the one policy module (`ranking.policy.missing_consent`).

A remix carries its source's cameos: the people in the remixed video are in the remix too,
so each needs a live grant to the remixer, and the published item lists them, which puts it
under the serving consent filter as well. The source's creator is in it only if the source's
own cameo list names them: a likeness is in a video by its cameo list, not by authorship.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ranking.directory import Directory, KnownItem
from ranking.policy import missing_consent
from reelrank.control.connection import Connection

__all__ = ["Checked", "check_request", "missing_consent", "refusal_reason"]


def refusal_reason(missing: Sequence[object], requester_id: object) -> str:
    names = ", ".join(repr(m) for m in missing)
    return f"no live cameo consent from {names} to {requester_id!r}"


@dataclass(frozen=True)
class Checked:
    """The request's people (its own cameos, then the remixed item's), the remixed item,
    and why the request is refused (None: it may go ahead)."""

    cameo_user_ids: tuple[object, ...]
    source: KnownItem | None
    refusal: str | None


def check_request(control: Connection, directory: Directory, requester_id: object,
                  cameo_user_ids: Sequence[object], remix_of: object) -> Checked:
    """Whether `requester_id` may make a generation of `cameo_user_ids`, remixing
    `remix_of` (None: not a remix), right now."""
    cameos = tuple(dict.fromkeys(cameo_user_ids))
    source = None
    if remix_of is not None:
        source = directory.item(control, remix_of)
        if source is None:
            return Checked(cameos, None, f"remix_of {remix_of!r} is not an item of this home")
    inherited = tuple(o for o in (source.cameo_user_ids if source else ()) if o not in cameos)
    people = cameos + inherited
    unknown = directory.unknown_users(control, [requester_id, *people])
    if requester_id in unknown:
        return Checked(people, source, f"{requester_id!r} is not a user of this home")
    # Someone unknown cannot have granted anything: refused like any missing consent, so
    # the answer does not say who exists.
    lacking = set(unknown) | set(missing_consent(control, requester_id, people))
    missing = [p for p in people if p in lacking]
    if not missing:
        return Checked(people, source, None)
    reason = refusal_reason(missing, requester_id)
    if any(p in inherited for p in missing):
        reason += f" (they appear in {remix_of!r}, which this remixes)"
    return Checked(people, source, reason)

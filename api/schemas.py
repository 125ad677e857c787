"""Request and response bodies. Requests refuse unknown fields (`extra="forbid"`), so a typo
is a 422 naming the field rather than a setting silently not changed, and take numbers
strictly (`StrictInt`: `true` is not a count, a watch time or a limit). Bounds and choices
come from the data contracts, never restated here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from reelrank.contracts import CONTRACTS, DM_POLICIES, EVENT_TYPES, SAFETY_LABELS
from reelrank.control.labels import LABELS

__all__ = [
    "AppearanceList",
    "AppearanceOut",
    "BlockIn",
    "BlockList",
    "BlockOut",
    "ChildList",
    "ChildRules",
    "ChildRulesPatch",
    "ContributionOut",
    "DmOut",
    "ErasureOut",
    "EventAck",
    "EventBatch",
    "EventIn",
    "ExportOut",
    "FeedItemOut",
    "FeedOut",
    "GrantIn",
    "GrantList",
    "GrantOut",
    "LabelIn",
    "LabelOut",
    "LinkIn",
    "OverrideIn",
    "ReloadOut",
    "SettingsIn",
    "SettingsOut",
    "Status",
    "UserIn",
    "UserOut",
    "WhyOut",
]

Id = StrictInt | Annotated[str, StringConstraints(min_length=1, max_length=128)]
_EVENTS = CONTRACTS["events"]
_GUARDIANS = CONTRACTS["guardians"]
_USERS = CONTRACTS["users"]
_WATCH = _EVENTS.field("watch_ms")
_LIMIT = _GUARDIANS.field("scroll_limit")
_BIRTH = _USERS.field("birth_year")
ScrollLimit = Annotated[StrictInt, Field(ge=int(_LIMIT.minimum), le=int(_LIMIT.maximum))]
DmPolicy = Literal[DM_POLICIES]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedItemOut(BaseModel):
    item_id: Id
    score: float
    source: str = Field(description="the candidate sources that proposed it, comma-separated")
    reason: str = Field(description="a short why, for the viewer")
    position: int = Field(description="its place in this scroll, from 1 (the cursor carries "
                          "the count so far)")


class FeedOut(BaseModel):
    items: list[FeedItemOut]
    cursor: str | None = Field(description="pass back for the next page; null: no more")
    remaining_today: int | None = Field(
        description="items still allowed today under a guardian's scroll limit; null: none")
    request_id: str = Field(description="this request's id, as served history records it")


class EventIn(_Request):
    """One engagement event, as the `events` data contract defines it."""

    event_id: Id
    user_id: Id
    item_id: Id
    event_type: Literal[EVENT_TYPES]
    ts: datetime = Field(description="when it happened; a time without offset is UTC")
    watch_ms: StrictInt | None = Field(default=None, ge=int(_WATCH.minimum),
                                       le=int(_WATCH.maximum))
    ip: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="the viewer's IP, resolved to a region at ingestion and "
        "not kept beyond it")


class EventBatch(_Request):
    events: list[EventIn] = Field(min_length=1)


class EventAck(BaseModel):
    received: int
    new: int
    duplicates: int = Field(description="events (a user's event ids) already accepted or "
                            "already in the warehouse with the same content (not stored twice)")


class UserIn(_Request):
    """A new user, as the `users` data contract defines one."""

    user_id: Id
    created_at: datetime | None = Field(default=None, description="when the account was "
                                        "created; default now; a time without offset is UTC")
    country: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = Field(
        default=None, description="ISO 3166-1 alpha-2, as declared")
    birth_year: Annotated[StrictInt, Field(ge=int(_BIRTH.minimum),
                                           le=int(_BIRTH.maximum))] | None = None


class UserOut(BaseModel):
    user_id: Id
    created_at: str
    country: str | None
    birth_year: int | None
    registered_at: str
    landed: bool = Field(description="already handed to the pipeline for the warehouse")


class ErasureOut(BaseModel):
    user_id: Id
    erased_at: str
    removed: dict[str, int] = Field(description="control-store rows deleted now, by table")
    media_files: int = Field(description="files of their generations deleted now")
    credits_closed: int = Field(description="the balance the closing ledger entry took away "
                                "(the ledger itself is append-only and is kept)")
    pending: str = Field(description="what happens next, and when")


class ExportOut(BaseModel):
    """What reelrank holds about one user."""

    user_id: Id
    exported_at: str
    control: dict[str, object] = Field(description="the live state: registration, settings, "
                                       "blocks, grants, supervision, recent events in the "
                                       "inbox, generation requests and items, credits, tokens")
    snapshot: dict[str, object] | None = Field(description="what the live serving snapshot "
                                               "holds about them (null: none loaded)")


class SettingsIn(_Request):
    chat_personalization: StrictBool


class SettingsOut(BaseModel):
    user_id: Id
    chat_personalization: bool
    supervised: bool


class ChildRules(BaseModel):
    child_id: Id
    guardian_id: Id
    personalization: bool
    scroll_limit: int | None
    scroll_override: int | None = Field(description="today's override of the limit, if any")
    override_day: str | None
    dm_policy: DmPolicy
    linked_at: str
    updated_at: str


class ChildList(BaseModel):
    children: list[ChildRules]


class ChildRulesPatch(_Request):
    """Only the fields present change. `scroll_limit: null` removes the limit."""

    personalization: StrictBool | None = None
    scroll_limit: ScrollLimit | None = None
    dm_policy: DmPolicy | None = None


class OverrideIn(_Request):
    limit: ScrollLimit = Field(description="items allowed today (UTC), instead of the limit")


class LinkIn(_Request):
    guardian_id: Id
    child_id: Id


class GrantIn(_Request):
    grantee_id: Id


class GrantOut(BaseModel):
    owner_id: Id
    grantee_id: Id
    granted_at: str
    revoked_at: str | None


class GrantList(BaseModel):
    grants: list[GrantOut]


class ContributionOut(BaseModel):
    feature: str
    value: float = Field(description="the feature's value for this user and item")
    contribution: float = Field(description="its share of the ranker's score (SHAP)")
    words: str = Field(description="the feature and its value in plain words")


class WhyOut(BaseModel):
    item_id: Id
    sources: list[str] = Field(description="candidate sources that propose it to this "
                               "user now")
    servable: bool = Field(description="whether the policy lets this user see it now")
    removed_by: list[str] = Field(description="the policy rules that remove it, if any")
    contributions: list[ContributionOut] = Field(
        description="its largest positive contributions to the ranker's score, at most 3")
    controls: list[str] = Field(description="the user's own settings that shape the feed")


class AppearanceOut(BaseModel):
    item_id: Id
    creator_id: Id
    created_at: datetime
    cameo_user_ids: list[Id]
    consented: bool = Field(description="every person in it has a live grant to its creator")
    rating: str = Field(description="its safety rating now (a moderator's label included)")
    servable: bool = Field(description="consented, not unsafe, not ruled out: feeds may "
                           "show it right now")
    served_7d: int = Field(description="times it was served in the last 7 days")


class AppearanceList(BaseModel):
    appearances: list[AppearanceOut]


class BlockIn(_Request):
    blocked_id: Id


class BlockOut(BaseModel):
    user_id: Id
    blocked_id: Id
    created_at: str


class BlockList(BaseModel):
    blocks: list[BlockOut]


class DmOut(BaseModel):
    allowed: bool
    reason: str


class LabelIn(_Request):
    """A moderator's safety label for an item, in force from the next request on."""

    label: Literal[LABELS]
    reason: Annotated[str, StringConstraints(max_length=1_000)] | None = None


class LabelOut(BaseModel):
    item_id: Id
    label: Literal[SAFETY_LABELS] = Field(
        description="the item's label now: a moderator's if any, else its own rating")
    moderated: bool = Field(description="whether a moderator set it")
    set_by: str | None = None
    reason: str | None = None
    set_at: str | None = None


class ReloadOut(BaseModel):
    snapshot: str | None
    changed: bool


class Status(BaseModel):
    status: str
    snapshot: str | None = None
    as_of: str | None = None
    loaded_at: str | None = None
    precomputed_users: int | None = None

"""Data contracts: the typed schema of every input reelrank accepts.

A contract names each field, its kind, whether it is required, and the checks a value must
pass. Ingestion (`reelrank.ingest`) enforces them record by record: a record that breaks one
is quarantined with a reason naming the field, and the rest of its file still loads.

Ids come in two types, chosen per id domain by the first data a home sees (integers stay
integers, strings stay strings); see `reelrank.stores.warehouse`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "CONTRACTS",
    "DM_POLICIES",
    "EVENT_TYPES",
    "INGEST_ORDER",
    "SAFETY_LABELS",
    "Field",
    "IdDomain",
    "Kind",
    "TableContract",
]

EVENT_TYPES: tuple[str, ...] = (
    "impression", "skip", "complete", "like", "comment", "share", "remix", "follow",
    "not_interested", "report",
)
SAFETY_LABELS: tuple[str, ...] = ("safe", "sensitive", "unsafe", "unrated")
DM_POLICIES: tuple[str, ...] = ("everyone", "friends", "nobody")


class IdDomain(str, Enum):
    """Which id space a field's values live in; each domain has one type per home."""

    USER = "user"
    ITEM = "item"
    EVENT = "event"
    CHAT = "chat"


class Kind(str, Enum):
    ID = "id"
    ID_LIST = "id_list"
    TIMESTAMP = "timestamp"
    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    ENUM = "enum"
    COUNTRY = "country"
    IP = "ip"


@dataclass(frozen=True)
class Field:
    """One field of a contract.

    `references` names the table whose key an id must exist in (for ID and ID_LIST);
    `minimum`/`maximum` bound numbers; `choices` lists an ENUM's values; `default` fills an
    optional field that is absent or null.
    """

    name: str
    kind: Kind
    required: bool = True
    domain: IdDomain | None = None
    references: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: object = None

    def __post_init__(self) -> None:
        if self.kind in (Kind.ID, Kind.ID_LIST) and self.domain is None:
            raise ValueError(f"id field {self.name!r} needs a domain")
        if self.kind is Kind.ENUM and not self.choices:
            raise ValueError(f"enum field {self.name!r} needs choices")


@dataclass(frozen=True)
class TableContract:
    """A table's contract.

    `key` identifies a record within its `scope`: an event id is its user's own, so two
    users' event "e1" are two events and a record's identity is `scope + key`
    (`identity`); `store` says where it lands ("warehouse" or "control");
    `immutable` tables (events) ignore a re-sent key, others take the newer record, where
    `version_field` says which timestamp decides "newer" for live control-store state.
    `distinct` pairs of fields must differ (nobody follows themselves).
    """

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    scope: tuple[str, ...] = ()
    store: str = "warehouse"
    immutable: bool = False
    version_field: str | None = None
    distinct: tuple[tuple[str, str], ...] = ()
    ordered: tuple[tuple[str, str], ...] = field(default=())

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def identity(self) -> tuple[str, ...]:
        """The fields that identify a record: its scope, then its key."""
        return (*self.scope, *self.key)


def _uid(name: str, required: bool = True) -> Field:
    return Field(name, Kind.ID, required, domain=IdDomain.USER, references="users")


def _ts(name: str, required: bool = True) -> Field:
    return Field(name, Kind.TIMESTAMP, required)


CONTRACTS: dict[str, TableContract] = {
    c.name: c
    for c in (
        TableContract(
            "users",
            (
                Field("user_id", Kind.ID, domain=IdDomain.USER),
                _ts("created_at"),
                Field("birth_year", Kind.INT, required=False, minimum=1900, maximum=2100),
                Field("country", Kind.COUNTRY, required=False),
            ),
            key=("user_id",),
        ),
        TableContract(
            "items",
            (
                Field("item_id", Kind.ID, domain=IdDomain.ITEM),
                _uid("creator_id"),
                _ts("created_at"),
                Field("text", Kind.TEXT),
                Field("cameo_user_ids", Kind.ID_LIST, required=False, domain=IdDomain.USER,
                      references="users", default=()),
                Field("duration_s", Kind.FLOAT, required=False, minimum=0.1, maximum=3600),
                Field("safety_label", Kind.ENUM, required=False, choices=SAFETY_LABELS,
                      default="unrated"),
                Field("remix_of", Kind.ID, required=False, domain=IdDomain.ITEM,
                      references="items"),
                Field("topic", Kind.TEXT, required=False),
            ),
            key=("item_id",),
            distinct=(("item_id", "remix_of"),),
        ),
        TableContract(
            "follows",
            (_uid("follower_id"), _uid("followee_id"), _ts("created_at")),
            key=("follower_id", "followee_id"),
            distinct=(("follower_id", "followee_id"),),
        ),
        TableContract(
            "friendships",
            (_uid("user_a"), _uid("user_b"), _ts("created_at")),
            key=("user_a", "user_b"),
            distinct=(("user_a", "user_b"),),
        ),
        TableContract(
            "cameo_grants",
            (_uid("owner_id"), _uid("grantee_id"), _ts("granted_at"),
             _ts("revoked_at", required=False)),
            key=("owner_id", "grantee_id"),
            store="control",
            version_field="granted_at",
            distinct=(("owner_id", "grantee_id"),),
            ordered=(("granted_at", "revoked_at"),),
        ),
        TableContract(
            "user_settings",
            (_uid("user_id"), Field("chat_personalization", Kind.BOOL), _ts("updated_at")),
            key=("user_id",),
            store="control",
            version_field="updated_at",
        ),
        TableContract(
            "guardians",
            (
                _uid("child_id"),
                _uid("guardian_id"),
                Field("personalization", Kind.BOOL, required=False, default=True),
                Field("scroll_limit", Kind.INT, required=False, minimum=0, maximum=100_000),
                Field("dm_policy", Kind.ENUM, required=False, choices=DM_POLICIES,
                      default="friends"),
                _ts("linked_at"),
            ),
            key=("child_id",),
            store="control",
            version_field="linked_at",
            distinct=(("child_id", "guardian_id"),),
        ),
        TableContract(
            "chats",
            (
                Field("chat_id", Kind.ID, domain=IdDomain.CHAT),
                _uid("user_id"),
                _ts("ts"),
                Field("text", Kind.TEXT),
            ),
            key=("chat_id",),
            immutable=True,
        ),
        TableContract(
            "events",
            (
                Field("event_id", Kind.ID, domain=IdDomain.EVENT),
                _uid("user_id"),
                Field("item_id", Kind.ID, domain=IdDomain.ITEM, references="items"),
                Field("event_type", Kind.ENUM, choices=EVENT_TYPES),
                _ts("ts"),
                Field("watch_ms", Kind.INT, required=False, minimum=0, maximum=86_400_000),
                Field("ip", Kind.IP, required=False),
            ),
            key=("event_id",),
            scope=("user_id",),
            immutable=True,
        ),
    )
}

# Referenced tables load before the tables that reference them.
INGEST_ORDER: tuple[str, ...] = (
    "users", "items", "follows", "friendships", "cameo_grants", "user_settings", "guardians",
    "chats", "events",
)

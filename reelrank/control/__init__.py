"""The control plane: every table of the control store (the SQLite file the API, the worker
and the pipeline share for live state) is read and written here and nowhere else.

    connection     the `Connection` type, `connect`, the one `transaction` helper, `stamp`
    schema         the migrations
    grants         cameo grants: grant, revoke, which are live
    guardians      supervised accounts: links and the guardian's rules
    blocks         whom a user blocked
    user_settings  a user's own settings (chat-history personalization)
    served         daily served counters, which a scroll limit caps
    history        what each feed request served, to whom, when and where on the page
    tokens         API bearer tokens (stored hashed)
    inbox          accepted engagement events, keyed by (user, event id), until drained
    accounts       users signed up through the API, until the warehouse has them
    erasure        erasing a user at once, and the tombstone the pipeline carries on
    holdings       everything held about one user, for their export
    queue          generation requests and their leases
    credits        the append-only credit ledger
    items          finished generations (with their safety rating), for same-day serving
                   and the nightly ingest
    labels         moderators' live safety labels, an append-only log polled by seq
    known          accounts the control store knows (with the snapshot's users: who exists)
    bulk           whole-table copies of the social state, for tools

Each function takes a `Connection` first and raises `reelrank.errors` domain errors
(`NotFoundError`, `ConflictError`, ...). What the rows mean (consent, scroll limits, DM rules,
prices, retries) is decided by the callers: `ranking.policy` and `generation`.
"""

from reelrank.control.connection import Connection, connect, stamp, transaction

__all__ = ["Connection", "connect", "stamp", "transaction"]

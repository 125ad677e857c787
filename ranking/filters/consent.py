"""Cameo consent: a video showing someone's likeness is servable only while that person's
grant to its creator is live (hard rule 1). The grants are read from the control store at
the moment of ranking, never from a copy, so a revocation counts on the very next rank."""

from __future__ import annotations

import sqlite3

import polars as pl

from ranking.context import RankContext
from ranking.filters import FilterResult

__all__ = ["NAME", "consent_filter", "live_grants"]

NAME = "cameo_consent"


def live_grants(control: sqlite3.Connection) -> pl.DataFrame:
    """(owner_id, grantee_id) of every grant not revoked, as of now."""
    rows = control.execute(
        "SELECT owner_id, grantee_id FROM cameo_grants WHERE revoked_at IS NULL").fetchall()
    return pl.DataFrame(rows, schema=["owner_id", "grantee_id"], orient="row")


def consent_filter(ctx: RankContext, candidates: pl.DataFrame, grants: pl.DataFrame
                   ) -> FilterResult:
    """Keep a candidate when every person in its cameo list is its creator or has a live
    grant to the creator."""
    items = ctx.con.sql("SELECT item_id, creator_id, cameo_user_ids FROM items "
                        "WHERE len(cameo_user_ids) > 0").pl()
    people = items.explode("cameo_user_ids").rename({"cameo_user_ids": "owner_id"})
    people = people.filter(pl.col("owner_id") != pl.col("creator_id"))
    if grants.is_empty():
        lacking = people
    else:
        grants = grants.cast({"owner_id": people.schema["owner_id"],
                              "grantee_id": people.schema["creator_id"]})
        lacking = people.join(grants, left_on=["owner_id", "creator_id"],
                              right_on=["owner_id", "grantee_id"], how="anti")
    blocked = lacking.select("item_id").unique()
    return FilterResult(candidates.join(blocked, on="item_id", how="anti"),
                        candidates.join(blocked, on="item_id", how="semi"))

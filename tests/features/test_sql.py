"""Feature SQL takes its values as bound parameters: the same results as literal text, and
parameterised relations compose the ways callers use them (read by another query, written
to Parquet, copied into a table inside a transaction)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.engagement import ENTITIES, windowed_features
from features.location import home_regions, regional_popularity
from features.sql import Params, Query, as_query
from tests.features.test_engagement import LOG, D, _con, _rollup

KW = {"windows": (1, 7, 28), "half_life_days": 7, "prior_strength": 10}


def test_a_parameter_binds_once_and_refuses_a_second_value() -> None:
    p = Params({"as_of": D})
    assert p.bind("as_of", D) == "$as_of"
    assert p.bind("w7", 7) == "$w7"
    assert p.values == {"as_of": D, "w7": 7}
    with pytest.raises(ValueError, match=r"\$w7 is bound twice"):
        p.bind("w7", 28)
    with pytest.raises(ValueError, match=r"\$w7 is bound twice"):
        p.bind("w7", 7.0)   # same number, other type: DuckDB would type it differently
    with pytest.raises(ValueError, match="not an identifier"):
        p.bind("as of; DROP", 1)
    with pytest.raises(TypeError, match="named"):
        Query("SELECT ?", [1])  # type: ignore[arg-type]
    assert as_query("SELECT 1") == Query("SELECT 1")


@pytest.mark.parametrize("entity", ["user", "item", "user_creator", "region_item"])
def test_query_rows_with_parameters_equal_the_literal_text(entity: str) -> None:
    con = _con(LOG)
    _rollup(con)
    keys = ", ".join(ENTITIES[entity].keys)
    rows = f"SELECT DISTINCT {keys} FROM engagement_daily d JOIN items i USING (item_id)"
    literal = windowed_features(
        con, ENTITIES[entity], f"SELECT *, DATE '2026-01-10' AS as_of FROM ({rows})", **KW).pl()
    bound = windowed_features(
        con, ENTITIES[entity], Query(f"SELECT *, $as_of AS as_of FROM ({rows})", {"as_of": D}),
        **KW).pl()
    order = ["as_of", *ENTITIES[entity].keys]
    assert literal.height > 0
    assert_frame_equal(bound.sort(order), literal.sort(order))


def test_a_query_parameter_that_clashes_with_an_internal_one_is_refused() -> None:
    con = _con(LOG)
    _rollup(con)
    clash = Query("SELECT 'u1' AS user_id, DATE '2026-01-10' - $longest AS as_of",
                  {"longest": 3})
    with pytest.raises(ValueError, match=r"\$longest is bound twice"):
        windowed_features(con, ENTITIES["user"], clash, **KW)


def test_home_regions_take_query_parameters() -> None:
    con = _con(LOG)
    _rollup(con)
    con.execute("CREATE TABLE users AS SELECT DISTINCT user_id, 'US' AS country FROM events")
    literal = home_regions(con, "SELECT user_id, DATE '2026-01-10' AS as_of FROM users",
                           window_days=7).pl().sort("user_id")
    bound = home_regions(con, Query("SELECT user_id, $as_of AS as_of FROM users",
                                    {"as_of": D}), window_days=7).pl().sort("user_id")
    assert_frame_equal(bound, literal)
    assert bound["home_region"].to_list() == ["US", "BR"]


def test_parameterised_relations_compose(tmp_path: Path) -> None:
    con = _con(LOG)
    _rollup(con)
    snapshot = windowed_features(con, ENTITIES["item"], as_of=D, **KW)
    expected = snapshot.pl().sort("item_id")
    # Read by another query that has parameters of its own.
    con.register("_snap", snapshot)
    seen = con.sql("SELECT item_id FROM _snap WHERE item_impressions_28d >= $n ORDER BY 1",
                   params={"n": 2}).fetchall()
    con.unregister("_snap")
    assert seen == [("a",)]
    # Written to Parquet (the serving export) and copied into a table in a transaction
    # (`build_table`).
    snapshot.write_parquet(str(tmp_path / "f.parquet"))
    assert_frame_equal(pl.read_parquet(tmp_path / "f.parquet").sort("item_id"), expected)
    con.execute("BEGIN")
    snapshot.to_table("features_item")
    con.execute("COMMIT")
    assert_frame_equal(con.sql("SELECT * FROM features_item").pl().sort("item_id"), expected)
    # A relation built on a registered parameterised relation (regional popularity).
    top = regional_popularity(con, D, window_days=7, half_life_days=7, prior_strength=10,
                              top_k=1).pl()
    assert top.group_by("region").len()["len"].max() == 1
    assert set(top["as_of"].to_list()) == {date(2026, 1, 10)}

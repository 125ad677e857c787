"""Arrays of the snapshot's people, by row: the per-user block of ranker features (user
features and the home region's share; its last row the defaults, for a user the snapshot does
not know or one with no history), home region and declared country codes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from ranking.snapshot.arrays import codes, with_defaults
from ranking.snapshot.format import ENTITY_FILES
from ranking.snapshot.ids import Ids

__all__ = ["user_arrays"]

Read = Callable[..., pl.DataFrame]


def user_arrays(read: Read, ids: Ids, defaults: dict[str, dict[str, object]],
                country_code: dict[str, int]) -> tuple[dict[str, np.ndarray], dict]:
    users = pl.DataFrame({"user_id": ids.user_ids})
    user_f = users.join(read(ENTITY_FILES["user"]), on="user_id", how="left",
                        maintain_order="left")
    homes = users.join(read("home_region.parquet"), on="user_id", how="left",
                       maintain_order="left")
    cols = [c for c in user_f.columns if c not in ("user_id", "as_of")]
    block = with_defaults(user_f, cols, defaults["user"])
    block[:-1][~user_f["as_of"].is_not_null().to_numpy()] = block[-1]
    share = homes["home_region_share"].fill_null(0.0).to_numpy()[:, None]
    regions = homes["home_region"].fill_null("unknown")
    listed = read("regional_popularity.parquet", columns=["region"])["region"].unique()
    names = sorted(set(regions.to_list()) | set(listed.to_list()))
    arrays = {
        "user_block": np.hstack([block, np.vstack([share, [[0.0]]])]),
        "user_region": codes(regions, {r: n for n, r in enumerate(names)}),
        "user_country_code": np.array([country_code.get(c, -1) for c in ids.user_country],
                                      dtype=np.int32),
    }
    return arrays, {"user_block_cols": [*cols, "user_home_region_share"], "regions": names}

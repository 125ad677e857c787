"""Content embeddings: item captions, cached by content hash, and users as decayed means of them.

Every text is normalised (Unicode NFC, whitespace runs collapsed to one space, trimmed) and
keyed by (model id, sha256 of the normalised text) in `embedding_cache`. Re-embedding a catalog
therefore costs only its new or edited captions, and chat snippets (`features.chat`) share the
same cache. Normalising and hashing run in DuckDB, so only uncached texts ever reach Python.

Scale (~100k users x 1M items): per-(user, item) weights are aggregated in DuckDB; the weighted
sums of embeddings are a sparse (owners x vectors) by dense (vectors x dim) product in
scipy, taken over chunks of `_VECTOR_CHUNK` vectors, so memory is one chunk of embeddings plus
the (owners x dim) result, never the dense 1M x 384 catalog or a (pairs x dim) expansion.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from features.embeddings import Embedder
from features.sql import Params, Query, as_query
from reelrank.text_keys import content_hash, normalised_text_sql  # the cache's key, re-exported

__all__ = [
    "EMBEDDING_POINTS",
    "EmbedReport",
    "Progress",
    "UserEmbeddingReport",
    "cache_embeddings",
    "content_hash",
    "embed_items",
    "normalised_text_sql",
    "transaction",
    "user_embeddings",
    "weighted_sums",
]

# Points per engaged action for a user's taste vector. Reports are left out on purpose: they
# are a safety signal handled by filters, not a statement about taste.
EMBEDDING_POINTS: dict[str, float] = {
    "completes": 1.0, "likes": 2.0, "comments": 2.0, "shares": 3.0, "remixes": 3.0,
    "follows": 2.0, "skips": -0.5, "not_interested": -3.0,
}
_CHUNK_ROWS = 2048  # texts per encode call: progress cadence and crash-resume granularity
_VECTOR_CHUNK = 65_536  # embeddings held in memory at once by `weighted_sums` (~100 MB at 384-d)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EmbedReport:
    """What `embed_items` did: texts embedded now vs served from the cache, rows rewritten."""

    model_id: str
    items: int
    distinct_texts: int
    embedded: int
    items_written: int
    items_removed: int


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing: readers never see a table half rewritten."""
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def _embedding_type(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The SQL type of `table.embedding` in the current schema (e.g. 'FLOAT[384]'), if any."""
    found = con.execute(
        "SELECT data_type FROM duckdb_columns() WHERE table_name = ? AND column_name = "
        "'embedding' AND database_name = current_database() AND schema_name = current_schema()",
        [table]).fetchall()
    return found[0][0] if found else None


def _vector_table_ok(con: duckdb.DuckDBPyConnection, name: str, dim: int) -> bool:
    """Whether `name` exists with `FLOAT[dim]` embeddings. One of another width held another
    model's vectors, which this model cannot use, so it is dropped (and reported absent)."""
    found = _embedding_type(con, name)
    if found is not None and found != f"FLOAT[{int(dim)}]":
        con.execute(f"DROP TABLE {name}")
        return False
    return found is not None


def _vectors(table: pa.Table, column: str, dim: int) -> np.ndarray:
    values = table.column(column).combine_chunks().values.to_numpy(zero_copy_only=False)
    return values.astype(np.float32, copy=False).reshape(-1, dim)


def _fixed(matrix: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.astype(np.float32).ravel()),
                                             matrix.shape[1])


def cache_embeddings(con: duckdb.DuckDBPyConnection, embedder: Embedder,
                     source: str | Query, *, progress: Progress | None = None) -> int:
    """Embed every distinct normalised `text` of `source` (SQL built by this package: a
    `Query` with its named parameters, or plain text with none) missing from
    `embedding_cache` for this model; returns how many texts were embedded.

    Each chunk commits on its own, so an interrupted run resumes where it stopped.
    """
    dim = embedder.dim
    if not _vector_table_ok(con, "embedding_cache", dim):
        # A column type cannot be a parameter: the width is an int, never text.
        con.execute("CREATE TABLE embedding_cache (model_id VARCHAR, content_hash VARCHAR, "
                    f"embedding FLOAT[{int(dim)}], PRIMARY KEY (model_id, content_hash))")
    norm = normalised_text_sql("text")
    p = Params({"model_id": embedder.model_id})
    texts = p.add(as_query(source))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _to_embed AS SELECT row_number() OVER (ORDER BY h) - 1 "
        f"AS n, h AS content_hash, t AS text FROM (SELECT DISTINCT sha256({norm}) AS h, {norm} "
        f"AS t FROM ({texts}) s WHERE text IS NOT NULL) d WHERE NOT EXISTS (SELECT 1 FROM "
        "embedding_cache c WHERE c.model_id = $model_id AND c.content_hash = d.h)", p.values)
    total = con.execute("SELECT count(*) FROM _to_embed").fetchall()[0][0]
    started = time.monotonic()
    for lo in range(0, total, _CHUNK_ROWS):
        rows = con.execute("SELECT content_hash, text FROM _to_embed WHERE n >= ? AND n < ? "
                           "ORDER BY n", [lo, lo + _CHUNK_ROWS]).fetchall()
        vectors = embedder.encode([text for _, text in rows])
        batch = pa.table({"content_hash": [h for h, _ in rows], "embedding": _fixed(vectors)})
        con.register("_embedded", batch)
        con.execute("INSERT INTO embedding_cache SELECT ?, content_hash, embedding FROM _embedded",
                    [embedder.model_id])
        con.unregister("_embedded")
        if progress is not None:
            done = lo + len(rows)
            rate = done / max(time.monotonic() - started, 1e-9)
            progress(f"embedded {done}/{total} new texts with {embedder.model_id} "
                     f"({rate:.0f}/s)")
    con.execute("DROP TABLE _to_embed")
    return int(total)


def embed_items(con: duckdb.DuckDBPyConnection, embedder: Embedder,
                progress: Progress | None = None) -> EmbedReport:
    """Bring `item_embeddings` (one row per item, this model) up to date with `items`.

    Only uncached texts are encoded; only items that are new, edited, or were embedded by
    another model are rewritten, and items gone from `items` lose their row.
    """
    embedded = cache_embeddings(con, embedder, "SELECT text FROM items", progress=progress)
    con.execute("CREATE OR REPLACE TEMP TABLE _item_hash AS SELECT item_id, "
                f"sha256({normalised_text_sql('text')}) AS content_hash FROM items "
                "WHERE text IS NOT NULL")
    if not _vector_table_ok(con, "item_embeddings", embedder.dim):
        # item_id takes the type `items` uses (BIGINT or VARCHAR, chosen per data home); the
        # vector width is part of the column type, which cannot be a parameter.
        con.execute("CREATE TABLE item_embeddings AS SELECT item_id, NULL::VARCHAR AS model_id, "
                    "NULL::VARCHAR AS content_hash, "
                    f"NULL::FLOAT[{int(embedder.dim)}] AS embedding FROM items WHERE false")
    with transaction(con):
        removed = con.execute(
            "DELETE FROM item_embeddings e WHERE e.model_id <> ? OR NOT EXISTS (SELECT 1 FROM "
            "_item_hash h WHERE h.item_id = e.item_id AND h.content_hash = e.content_hash)",
            [embedder.model_id]).fetchall()[0][0]
        written = con.execute(
            "INSERT INTO item_embeddings SELECT h.item_id, c.model_id, h.content_hash, "
            "c.embedding FROM _item_hash h JOIN embedding_cache c ON c.model_id = ? AND "
            "c.content_hash = h.content_hash WHERE NOT EXISTS (SELECT 1 FROM item_embeddings e "
            "WHERE e.item_id = h.item_id)", [embedder.model_id]).fetchall()[0][0]
    items, distinct = con.execute(
        "SELECT count(*), count(DISTINCT content_hash) FROM _item_hash").fetchall()[0]
    con.execute("DROP TABLE _item_hash")
    return EmbedReport(model_id=embedder.model_id, items=int(items), distinct_texts=int(distinct),
                       embedded=embedded, items_written=int(written),
                       items_removed=int(removed))


def weighted_sums(con: duckdb.DuckDBPyConnection, pairs: str | Query, vectors: str | Query,
                  dim: int) -> tuple[pa.Array, np.ndarray]:
    """For each owner, the sum of weight x vector over its (owner, vkey, weight) rows in
    `pairs`, with vectors from `vectors` (vkey, embedding); both are SQL built by this package
    (a `Query` with its named parameters, or plain text with none).

    Returns the owners (Arrow, keeping the id type) and a float32 (owners x dim) matrix. Pairs
    whose key has no vector are ignored; duplicate pairs add up.
    """
    vectors = as_query(vectors)
    both = Params()
    pair_rows, vector_rows = both.add(as_query(pairs)), both.add(vectors)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _pairs AS SELECT owner, vkey, weight, "
        "dense_rank() OVER (ORDER BY owner) - 1 AS oi, dense_rank() OVER (ORDER BY vkey) - 1 "
        f"AS ki FROM (SELECT owner, vkey, sum(weight) AS weight FROM ({pair_rows}) p "
        f"WHERE vkey IN (SELECT vkey FROM ({vector_rows}) v) GROUP BY ALL) q", both.values)
    owners = con.sql("SELECT DISTINCT oi, owner FROM _pairs ORDER BY oi").to_arrow_table()
    n_keys = con.execute("SELECT coalesce(max(ki) + 1, 0) FROM _pairs").fetchall()[0][0]
    sums = np.zeros((owners.num_rows, dim), dtype=np.float32)
    for lo in range(0, n_keys, _VECTOR_CHUNK):
        hi = min(lo + _VECTOR_CHUNK, n_keys)
        chunk_params = Params(vectors.params, {"lo": lo, "hi": hi})
        found = con.sql(
            "SELECT k.ki, v.embedding FROM (SELECT DISTINCT vkey, ki FROM _pairs WHERE "
            f"ki >= $lo AND ki < $hi) k JOIN ({vectors.sql}) v ON v.vkey = k.vkey",
            params=chunk_params.values).to_arrow_table()
        chunk = np.zeros((hi - lo, dim), dtype=np.float32)
        chunk[found.column("ki").to_numpy() - lo] = _vectors(found, "embedding", dim)
        rows = con.sql("SELECT oi, ki, weight FROM _pairs WHERE ki >= ? AND ki < ?",
                       params=[lo, hi]).fetchnumpy()
        weights = sparse.csr_matrix(
            (rows["weight"].astype(np.float32), (rows["oi"], rows["ki"] - lo)),
            shape=(owners.num_rows, hi - lo))
        sums += weights @ chunk
    con.execute("DROP TABLE _pairs")
    return owners.column("owner").combine_chunks(), sums


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _check_dim(con: duckdb.DuckDBPyConnection, table: str, dim: int) -> bool:
    """Whether `table` exists; raises if its vectors are not `dim` wide (another model's)."""
    found = _embedding_type(con, table)
    if found is not None and found != f"FLOAT[{int(dim)}]":
        raise ValueError(f"{table} holds {found} embeddings but dim={dim} was asked for; "
                         "re-run embed_items / build_chat_interests with the same model")
    return found is not None


@dataclass(frozen=True)
class UserEmbeddingReport:
    """Users written for `as_of`, and how many of them had chat interests blended in."""

    as_of: date
    users: int
    from_chat: int


def user_embeddings(con: duckdb.DuckDBPyConnection, as_of: date, half_life_days: float,
                    chat_weight: float, dim: int) -> UserEmbeddingReport:
    """Replace `as_of`'s rows of `user_embeddings`: each user's taste vector from days < as_of.

    Engagement part: items weighted by `EMBEDDING_POINTS` decayed by day (half-life), summed per
    (user, item); items whose decayed total is <= 0 are dropped; the weighted mean is then
    L2-normalised. Chat part: `chat_interests`, which holds rows only for opted-in users. Both
    parts are unit vectors before blending, so `chat_weight` is the chat share whatever the
    engagement history's spread; a user with chat interests and no engagement gets the chat
    vector alone (when chat_weight > 0). `from_chat` marks every row chat contributed to.
    """
    if not half_life_days > 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    if not 0 <= chat_weight <= 1:
        raise ValueError(f"chat_weight must be in [0, 1], got {chat_weight}")
    _check_dim(con, "item_embeddings", dim)
    has_chat = _check_dim(con, "chat_interests", dim) and chat_weight > 0
    p = Params({"as_of": as_of, "half_life": float(half_life_days)})
    points = " + ".join(f"{p.bind(f'points_{col}', float(pts))} * {col}"
                        for col, pts in EMBEDDING_POINTS.items())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _user_item AS SELECT user_id AS owner, item_id AS vkey, "
        f"sum(({points}) * pow(0.5, ($as_of::DATE - day) / $half_life)) AS weight "
        "FROM engagement_daily WHERE day < $as_of GROUP BY ALL HAVING weight > 0", p.values)
    users, vectors = weighted_sums(
        con, "SELECT * FROM _user_item",
        "SELECT item_id AS vkey, embedding FROM item_embeddings", dim)
    con.execute("DROP TABLE _user_item")
    vectors = _unit(vectors)
    from_chat = np.zeros(len(users), dtype=bool)
    if has_chat:
        chats = con.sql("SELECT user_id, embedding FROM chat_interests").to_arrow_table()
        chat_users = chats.column("user_id").combine_chunks()
        at = pc.index_in(chat_users, value_set=users)
        new = at.is_null().to_numpy(zero_copy_only=False)
        rows = np.where(new, 0, at.fill_null(0).to_numpy())
        rows[new] = len(users) + np.arange(new.sum())
        users = pa.concat_arrays([users, chat_users.filter(pa.array(new))])
        vectors = np.vstack([vectors, np.zeros((int(new.sum()), dim), dtype=np.float32)])
        from_chat = np.concatenate([from_chat, np.zeros(int(new.sum()), dtype=bool)])
        vectors[rows] = ((1 - chat_weight) * vectors[rows]
                         + chat_weight * _unit(_vectors(chats, "embedding", dim)))
        from_chat[rows] = True
    vectors = _unit(vectors)
    keep = np.linalg.norm(vectors, axis=1) > 0
    out = pa.table({"user_id": users.filter(pa.array(keep)), "embedding": _fixed(vectors[keep]),
                    "from_chat": from_chat[keep]})
    with transaction(con):
        if not _vector_table_ok(con, "user_embeddings", dim):
            # The vector width is part of the column type: an int, never a parameter.
            con.execute("CREATE TABLE user_embeddings AS SELECT user_id, NULL::DATE AS as_of, "
                        f"NULL::FLOAT[{int(dim)}] AS embedding, NULL::BOOLEAN AS from_chat "
                        "FROM engagement_daily WHERE false")
        con.execute("DELETE FROM user_embeddings WHERE as_of = ?", [as_of])
        con.register("_users_out", out)
        con.execute("INSERT INTO user_embeddings SELECT user_id, ?, embedding, from_chat "
                    "FROM _users_out", [as_of])
        con.unregister("_users_out")
    return UserEmbeddingReport(as_of=as_of, users=out.num_rows,
                               from_chat=int(from_chat[keep].sum()))

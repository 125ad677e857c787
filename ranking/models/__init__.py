"""Pure recommendation models: polars/numpy in, arrays out; no Dagster, no DuckDB.

One model per module, each `fit_<name>(interactions, params, seed) -> Model` with bounded,
frozen params; every model scores `score(user_codes, item_codes)`, ranks
`top(user_codes, k, exclude_seen=True)` and saves as numpy files plus a json meta.

- `interactions`: the coded (user, item, ts) log all models share
- `popularity`: all-time and clock-relative windowed popularity (`TimeIndex`)
- `ease`, `als`, `bpr`, `itemknn`: collaborative sources (EASE closed form; implicit's ALS
  and BPR; cosine item-kNN), the last with an optional recency-weighted history
- `cooc`: local co-occurrence kNN (items taken close together in time)
- `sequence`: SASRec next-item model in torch
- `order`: does the log's order carry signal (gates the order-aware models)
- `tuning`: validation carving, metrics, grid search
- `stage2`: candidate pooling, features, LambdaMART
- `pipeline`: all of it, chosen on validation carved from the training log
"""

__all__: list[str] = []

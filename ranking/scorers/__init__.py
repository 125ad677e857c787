"""Scorers: each adds only the columns it declares (`WRITES`) to the candidates of the
queries it `applies` to, given the `Scoring` context; the pipeline runs them in order, and
the selector orders by the `score` column. `score(ctx, queries, pools, columns)` gets the
columns earlier scorers wrote for the same queries and returns `{column: [array per query]}`.
Adding a scorer is one module and one line in `ranking.pipeline`."""

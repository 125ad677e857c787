"""Filters, each one module with a `NAME`, `applies(policy)` and
`drop(view, query, live, rows)` returning the mask of candidate rows it removes. The feed
definition (`ranking.pipeline.FEED`) lists them cheapest first; the policy module
(`ranking.policy.servable`) runs them and counts removals under each name, which is how
"why was this video not shown" is answered. Adding a filter is one module and one line in
the definition."""

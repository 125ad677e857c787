"""The live feed's settings: served history and endless scroll, in-session reaction, the
user's own controls (steering, mutes, see fewer) and experiments. Declared here to keep one
file per concern readable; `reelrank.settings.Settings` inherits them, so they are read,
bounded and frozen exactly like every other setting (`REELRANK_<NAME>`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["LiveSettings"]


class LiveSettings(BaseModel):
    # The live feed: never the same page twice, endless scroll.
    served_window_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="an item served to a user is not served "
        "to them again for this long, while anything else is servable")
    served_keep_days: float = Field(default=7.0, ge=0, le=3_650,
                                    description="served history is kept this long")
    history_flush_ms: int = Field(
        default=20, ge=1, le=10_000, description="the served-history writer commits what "
        "requests served at most this often (one commit for all of them)")
    scroll_depth_max: int = Field(
        default=2_000, ge=0, le=100_000, description="for a user whose session excludes many "
        "items, sources propose up to this many more candidates than candidates_per_source")
    # In-session reaction: the next request reflects what the person just did.
    session_pull_per_like: float = Field(
        default=0.15, ge=0, le=1, description="how far one like (weight 1) moves the taste "
        "vector toward the liked item")
    session_pull_max: float = Field(default=0.6, ge=0, le=1,
                                    description="the most the session may move it")
    session_weight_like: float = Field(default=1.0, ge=0, le=10)
    session_weight_complete: float = Field(default=0.5, ge=0, le=10)
    session_weight_share: float = Field(default=1.5, ge=0, le=10)
    session_boost: float = Field(
        default=1.0, ge=0, le=10, description="candidates like what was just liked rise by up "
        "to this share of the page's score range (by cosine similarity)")
    session_liked_max: int = Field(default=5, ge=0, le=100,
                                   description="recent likes the session source searches from")
    session_similar_k: int = Field(default=50, ge=1, le=5_000,
                                   description="candidates the session source proposes per like")
    not_interested_hours: float = Field(
        default=24.0, ge=0, le=24 * 90, description="how long a 'not interested' keeps its "
        "creator out of the feed and demotes its topic")
    skip_run: int = Field(default=3, ge=2, le=100,
                          description="this many skips in a row on one topic demote it")
    report_hide_threshold: int = Field(
        default=3, ge=1, le=10_000, description="an item this many distinct people reported "
        "is hidden from everyone until a moderator labels it")
    experiments_poll_s: float = Field(
        default=5.0, ge=0.0, le=3600.0, description="how often each API process re-reads "
        "the experiments: a stop or a new experiment reaches it within this time")
    cursor_max_age_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="a feed cursor older than this is refused")
    api_spare_items: int = Field(
        default=10_000, ge=0, le=10_000_000,
        description="room in the served snapshot for generations finished after it was "
        "published (same-day reach); beyond it they wait for the nightly run")
    # The user's own controls: steering in their words, mutes, "see fewer like this".
    steering_max_chars: int = Field(default=300, ge=10, le=5_000,
                                    description="longest steering text accepted")
    steering_max_directions: int = Field(default=8, ge=1, le=50, description="most "
                                         "directions (more / less / no phrases) in one text")
    steering_topic_match: float = Field(
        default=0.65, ge=0, le=1, description="a steering phrase names a catalog topic when "
        "its embedding is at least this close (cosine) to the topic name's, or the words match")
    steering_pull: float = Field(default=0.5, ge=0, le=1, description="how far 'more' moves "
                                 "the taste vector toward what was asked (all 'more' together)")
    steering_more_boost: float = Field(
        default=1.0, ge=0, le=10, description="candidates like a 'more' phrase rise by up to "
        "this share of the page's score range (fully for its topic, else by cosine)")
    steering_less_demote: float = Field(
        default=1.0, ge=0, le=10, description="candidates like a 'less' phrase sink by up to "
        "this share of the page's score range (fully for its topic, else by cosine)")
    steering_no_similarity: float = Field(
        default=0.5, ge=0, le=1, description="a 'no' phrase removes its topic and every "
        "candidate at least this close (cosine) to the phrase")
    steering_similar_k: int = Field(default=100, ge=1, le=5_000, description="candidates the "
                                    "steering source proposes per 'more' phrase")
    steering_cache_texts: int = Field(default=10_000, ge=0, le=10_000_000, description="phrase "
                                      "embeddings a server keeps, by model and text hash")
    mutes_max: int = Field(default=200, ge=1, le=10_000,
                           description="most muted words and topics one user may hold")
    mute_word_max_chars: int = Field(default=64, ge=1, le=500,
                                     description="longest muted word or phrase")
    see_fewer_hours: float = Field(default=72.0, gt=0, le=24 * 365, description="how long "
                                   "'see fewer like this' demotes an item's topic and creator")
    see_fewer_demote: float = Field(
        default=0.5, ge=0, le=10, description="'see fewer' sinks candidates of that topic, and "
        "of that creator, each by this share of the page's score range")

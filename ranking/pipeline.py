"""The feed, as one definition that reads top to bottom.

    query hydration   the live policy decides which signals may be used (`Engine.query`)
    sources           similar, session (more like what was just liked), steering (what
                      the user asked for more of), collaborative, learned (the nightly
                      learned stage's lists), graph, trending, fresh: candidates, merged;
                      the whole catalog as backfill when they leave a user short of a page
    filters           cheapest first, each removal counted under its name (the policy):
                      unsafe, not rated safe (children), reported, seen before the
                      snapshot, served recently, engaged since, creators marked not
                      interested, muted topics, blocked creators, what the steering says
                      no to, muted words, cameo consent
    scorers           popularity for all; then exactly one `score`: unpersonalized,
                      collaborative, the ranker, or the fallback before any ranker exists;
                      then topics the user just turned away from sink; then the user's
                      steering (more rises, less sinks) and "see fewer" sink
    selector          caps, MMR diversity, exploration slots: the page

`FOLLOWING_FILTERS` are the same policy components for the Following tab (a chronological
list of the people a user follows): safety, ratings, reports, muted and blocked creators,
muted topics and words, consent; not the feed's "new to you" filters (seen, served, engaged).

Each component is one module in a folder named for its kind, with one signature per kind
(see each folder's docstring). Adding one is a module and a line here. `ranking.engine`
runs the definition; the nightly batch scorer and the API run exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ranking.filters import (
    blocked,
    consent,
    engaged,
    hidden,
    muted,
    muted_topic,
    muted_word,
    rating,
    safety,
    seen,
    served,
    steered_out,
)
from ranking.scorers import collaborative as collaborative_score
from ranking.scorers import fallback, popularity, ranker, session, steering, unpersonalized
from ranking.selectors import feed
from ranking.sources import ann, catalog, collaborative, fresh, graph, learned, trending
from ranking.sources import session as session_source
from ranking.sources import steering as steering_source

__all__ = ["FEED", "FOLLOWING_FILTERS", "Pipeline"]


@dataclass(frozen=True)
class Pipeline:
    sources: tuple[ModuleType, ...]  # a source with BACKFILL = True only fills short pools
    filters: tuple[ModuleType, ...]
    scorers: tuple[ModuleType, ...]
    selector: ModuleType
    exploration: ModuleType  # the source whose candidates take the exploration slots
    # Sources that find items by the user's taste: a video made since the snapshot that one
    # of them proposes takes an exploration slot before any other fresh video.
    taste: tuple[ModuleType, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        """Source bitmask -> provenance label ("graph,trending"): names sorted, as feeds
        store them."""
        return tuple(",".join(sorted(m.NAME for b, m in enumerate(self.sources)
                                     if mask >> b & 1))
                     for mask in range(1 << len(self.sources)))

    @property
    def exploration_bit(self) -> int:
        return 1 << self.sources.index(self.exploration)

    @property
    def taste_bits(self) -> int:
        return sum(1 << self.sources.index(m) for m in self.taste)


FEED = Pipeline(
    sources=(ann, session_source, steering_source, collaborative, learned, graph, trending,
             fresh, catalog),
    filters=(safety, rating, hidden, seen, served, engaged, muted, muted_topic, blocked,
             steered_out, muted_word, consent),
    scorers=(popularity, unpersonalized, collaborative_score, ranker, fallback, session,
             steering),
    selector=feed,
    exploration=fresh,
    taste=(ann, session_source),
)

FOLLOWING_FILTERS = (safety, rating, hidden, muted, muted_topic, blocked, muted_word, consent)

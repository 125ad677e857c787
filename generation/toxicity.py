"""A trained moderation model as the classifier: `generation.toxicity:ToxicityModel`.

alt-profanity-check's linear SVM (trained on some 200k human-labelled comments; shipped in
the package, so it runs offline, microseconds a prompt) scores how offensive the whole
text is, which catches insults and abuse the lexicon does not list. It is a model of
offensive language only, so it adds to the lexicon (`generation.lexicon`) rather than
replacing it: the rating is the more restrictive of the two. An offensive text is rated
`sensitive` (hidden from supervised accounts), not `unsafe`: rudeness alone is not a reason
to hide a video from adults; the lexicon's unsafe categories still are.

Install with `pip install 'reelrank[moderation]'`.
"""

from __future__ import annotations

from generation.lexicon import LexiconClassifier
from generation.rating import ClassifierConfigError, Rating, worst

__all__ = ["ToxicityModel"]


class ToxicityModel:
    """The lexicon, plus the offensive-language model's probability (at or above
    `SENSITIVE_AT`: sensitive)."""

    name = "toxicity-1+lexicon-1"
    SENSITIVE_AT = 0.5  # the model's own decision threshold

    def __init__(self) -> None:
        try:
            from profanity_check import predict_prob
        except ImportError as exc:
            raise ClassifierConfigError(
                "the toxicity model needs alt-profanity-check: pip install "
                f"'reelrank[moderation]' ({exc})") from exc
        self._predict = predict_prob
        self._lexicon = LexiconClassifier()

    def probability(self, text: str) -> float:
        """How likely the model finds `text` offensive, 0 to 1."""
        return float(self._predict([text])[0])

    def rate(self, text: str) -> Rating:
        lexicon = self._lexicon.rate(text)
        offensive = self.probability(text) >= self.SENSITIVE_AT
        categories = lexicon.categories + (("offensive_language",) if offensive else ())
        label = worst([lexicon.label, "sensitive" if offensive else "safe"])
        return Rating(label, categories, self.name)

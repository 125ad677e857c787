"""Ranking: candidate sources, the LightGBM ranker, selection and offline evaluation."""

"""Selectors: turn scored candidates into a page (caps, diversity, exploration slots)."""

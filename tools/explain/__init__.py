"""Explanations: which of a user's behaviours made the ranker recommend an item, verified by re-ranking."""

"""Watchlist core: face gallery, plate index, matcher (pure) and the local SQLite file."""

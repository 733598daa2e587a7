"""The store's REST/JSON API under /api/v1 (see docs/api.md)."""

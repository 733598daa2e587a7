"""The store's web port: reviewer pages, REST API and metrics (see docs/web.md)."""

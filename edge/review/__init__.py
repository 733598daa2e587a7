"""Reviewer CLI: a gRPC client of the store."""

"""The one error hierarchy of EdgeWatch.

Every error a user can cause (bad file, bad config, wrong certificate, ...) is an
``EdgeError`` whose message names the bad value and what is allowed, so the CLI can
print it as one line instead of a traceback.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every error EdgeWatch raises on purpose."""


class ConfigError(EdgeError):
    """A configuration file or setting is missing or invalid."""


class ModelPackError(EdgeError):
    """A model pack or one of its files is missing, altered or inconsistent."""


class ModelMismatchError(ModelPackError):
    """Data built for one model (e.g. face templates) was offered to another."""


class InputError(EdgeError):
    """An input (image, video, folder, stream) cannot be used."""


class ImageDecodeError(InputError):
    """An image file is empty, truncated, corrupt or not an image."""


class ImageTooLargeError(InputError):
    """An image exceeds the configured pixel limit."""


class SourceError(InputError):
    """A camera source is unreachable, stalled or malformed."""


class WatchlistError(EdgeError):
    """A watchlist operation was refused (invalid plate, no face, unknown id...)."""


class EvidenceError(EdgeError):
    """Evidence failed an integrity check (hash, signature, chain)."""


class OutboxFullError(EdgeError):
    """The durable outbox reached its configured bound."""


class TransportError(EdgeError):
    """The store could not be reached or refused the connection."""


class AuthError(TransportError):
    """Credentials (certificate or token) were rejected or are insufficient."""


class StoreError(EdgeError):
    """The central store refused or failed an operation."""


class NotFoundError(StoreError):
    """The store has no such event, subject, gateway or user."""


class QueryError(StoreError):
    """A search filter or page token is invalid."""

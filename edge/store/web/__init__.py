"""The reviewer web page served by the central store (see docs/web.md)."""

from edge.store.web.server import WebServer
from edge.store.web.services import WebServices

__all__ = ["WebServer", "WebServices"]

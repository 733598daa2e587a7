"""ASGI middleware of the web port: request body size and time limits, security headers.

``BodyLimit``: a body announced larger than the limit is refused with 413 before a
byte of it is read, whatever the method; a body without a length (chunked) is counted
as it arrives and refused the same way once it passes the limit; a body that does not
arrive within ``timeout_s`` is answered 408. Both close the connection, so an unread
rest of the body can never be taken for the next request.

``SecurityHeaders``: every answer of the port (pages, API, metrics, errors) carries
the security headers and ``Cache-Control: no-store`` unless the route chose its own
cache policy; HSTS when the request came over HTTPS.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.store.web.http import SECURITY_HEADERS

_SECURITY = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS]
_HSTS = (b"strict-transport-security", b"max-age=31536000")


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int, timeout_s: float) -> None:
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s

    def _too_large(self, size: int | None) -> str:
        got = f"{size} bytes" if size is not None else "larger than that"
        return f"request body too large: {got}; at most {self.limit} bytes are accepted"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            size = int(length) if length.isdigit() else -1
            if size < 0:
                await _plain(send, 400, f"bad Content-Length {length[:20].decode('latin-1')!r}")
                return
            if size > self.limit:
                await _plain(send, 413, self._too_large(size))
                return
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = answered = False
        deadline = anyio.current_time() + self.timeout_s
        disconnect: Message = {"type": "http.disconnect"}

        async def refuse(status: int, text: str) -> Message:
            # answer for the app, then tell it the client is gone so it stops reading
            nonlocal answered
            if not started:
                await _plain(send, status, text)
            answered = True
            return disconnect

        async def limited_receive() -> Message:
            nonlocal received
            if answered:
                return disconnect
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as waited:
                message = await receive()
            if waited.cancelled_caught:
                return await refuse(408, f"request body not received within {self.timeout_s:g} s")
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    return await refuse(413, self._too_large(None))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the app's late answer to a refused body
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not answered:  # the app's own failure; a refused body's aftermath is not
                raise


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [h for h in _SECURITY if h[0] not in names]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                if secure:
                    extra.append(_HSTS)
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, with_headers)

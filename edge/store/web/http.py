"""Requests and responses of the reviewer page, independent of the socket server.

The handler turns each HTTP request into a ``Request`` (body already read, bounded)
and writes back a ``Response``; everything in between is plain functions, which is
what the HTTP-level tests exercise through a real server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from edge.errors import QueryError
from edge.store.web.html import Html

#: pages and evidence are personal data: never cached, never framed, scripts only ours
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:;"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?')


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    client: str
    secure: bool = False

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0].strip() if values else default

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except CookieError:
            return {}
        return {k: m.value for k, m in jar.items()}

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def form(self) -> dict[str, list[str]]:
        """Fields of a urlencoded or multipart POST (files left out)."""
        if self.content_type == "multipart/form-data":
            return self.multipart()[0]
        if self.content_type != "application/x-www-form-urlencoded":
            return {}
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise QueryError("form data is not UTF-8") from None
        return parse_qs(text, keep_blank_values=True, max_num_fields=200)

    def multipart(self) -> tuple[dict[str, list[str]], dict[str, list[Upload]]]:
        return parse_multipart(self.headers.get("content-type", ""), self.body)


def field_value(form: dict[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _part_headers(head: bytes) -> dict[str, str]:
    out = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        name, _, value = line.partition(":")
        out[name.strip().lower()] = value.strip()
    return out


def _disposition(value: str) -> dict[str, str]:
    params = {}
    for m in re.finditer(r';\s*([A-Za-z*]+)="((?:[^"\\]|\\.)*)"|;\s*([A-Za-z*]+)=([^;]*)', value):
        key = (m[1] or m[3]).lower()
        params[key] = (m[2] if m[1] else m[4]).strip()
    return params


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, list[str]], dict[str, list[Upload]]]:
    m = _BOUNDARY.search(content_type)
    if not m:
        raise QueryError("multipart form without a boundary")
    delimiter = b"--" + m[1].encode("latin-1")
    fields: dict[str, list[str]] = {}
    files: dict[str, list[Upload]] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise QueryError("malformed multipart form part")
        data = data.removesuffix(b"\r\n")
        headers = _part_headers(head)
        params = _disposition(headers.get("content-disposition", ""))
        name = params.get("name")
        if not name:
            continue
        if "filename" in params:
            if data or params["filename"]:
                ctype = headers.get("content-type", "application/octet-stream")
                files.setdefault(name, []).append(Upload(params["filename"], ctype, data))
        else:
            try:
                fields.setdefault(name, []).append(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise QueryError(f"form field {name[:40]!r} is not UTF-8") from None
    return fields, files


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def html_response(markup: Html, status: int = 200) -> Response:
    return Response(status, markup.encode("utf-8"))


def redirect(location: str, status: int = 303) -> Response:
    return Response(status, b"", "text/plain; charset=utf-8", [("Location", location)])


def text_response(text: str, status: int) -> Response:
    return Response(status, text.encode("utf-8"), "text/plain; charset=utf-8")


def cookie_header(
    name: str, value: str, *, max_age: int | None, secure: bool, http_only: bool = True
) -> tuple[str, str]:
    parts = [f"{name}={value}", "Path=/", "SameSite=Strict"]
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "Set-Cookie", "; ".join(parts)


def local_path(target: str, default: str = "/search") -> str:
    """Only same-site paths may be redirect targets (no //host, no scheme)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default

"""Requests and responses of the reviewer page, independent of the ASGI server.

The ASGI layer (edge/store/web/asgi.py) turns each HTTP request into a ``Request``
value (body already read and bounded, form parsed by python-multipart) and writes
back a ``Response``; the page handlers in between are plain synchronous functions run
on the bounded worker threads.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from python_multipart import multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from edge.errors import QueryError
from edge.store.web.html import Html

#: most fields of one form (the largest page form has a dozen)
MAX_FORM_FIELDS = 200

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


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


Fields = dict[str, list[str]]
Files = dict[str, list[Upload]]


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the page handlers see it: body read (bounded) and form parsed."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    client: str
    secure: bool = False
    fields: Fields = field(default_factory=dict)
    files: Files = field(default_factory=dict)

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

    def form(self) -> Fields:
        """Fields of a urlencoded or multipart POST (files left out)."""
        return self.fields

    def multipart(self) -> tuple[Fields, Files]:
        return self.fields, self.files


def field_value(form: Fields, name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _text(raw: bytes | None, what: str) -> str:
    try:
        return (raw or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise QueryError(f"form {what} is not UTF-8") from None


def parse_form(content_type: str, body: bytes) -> tuple[Fields, Files]:
    """Fields and files of a urlencoded (stdlib) or multipart (python-multipart) body.

    Files stay in memory (the body is already bounded by ``web.max_upload_bytes``): an
    uploaded face photo is never spooled to a temporary file.
    """
    ctype, params = parse_options_header(content_type)
    if ctype == b"application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
            pairs = parse_qs(
                text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"
            )
        except UnicodeDecodeError:
            raise QueryError("form data is not UTF-8") from None
        except ValueError:
            raise QueryError(f"form has more than {MAX_FORM_FIELDS} fields") from None
        return pairs, {}
    if ctype != b"multipart/form-data":
        return {}, {}
    if not params.get(b"boundary"):
        raise QueryError("multipart form without a boundary")
    fields: Fields = {}
    files: Files = {}

    def on_field(f: multipart.Field) -> None:
        name = _text(f.field_name, "field name")
        fields.setdefault(name, []).append(_text(f.value, f"field {name[:40]!r}"))

    def on_file(f: multipart.File) -> None:
        name = _text(f.field_name, "field name")
        data = f.file_object.getvalue() if isinstance(f.file_object, io.BytesIO) else b""
        filename = (f.file_name or b"").decode("utf-8", "replace")
        if data or filename:
            files.setdefault(name, []).append(Upload(filename, f.content_type or "", data))

    config = {"MAX_MEMORY_FILE_SIZE": len(body) + 1, "MAX_FIELDS": MAX_FORM_FIELDS}
    try:
        parser = multipart.FormParser(
            ctype.decode("latin-1"), on_field, on_file, boundary=params.get(b"boundary"),
            config=config,
        )  # fmt: skip
        parser.write(body)
        parser.finalize()
    except FormParserError as e:
        raise QueryError(f"malformed form data: {e}") from None
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

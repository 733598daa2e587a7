"""gRPC glue of the auth layer: every call is authenticated before its servicer runs.

The interceptor wraps each method handler so that, inside the call, it reads the peer
certificate from the TLS auth context and the bearer token from the metadata, asks the
Authenticator, and either aborts with UNAUTHENTICATED / PERMISSION_DENIED (one clear
line, no traceback) or runs the servicer with a context that carries the Principal.
It also turns undecodable request bytes into INVALID_ARGUMENT instead of INTERNAL,
and tells an optional observer (the store's metrics) each call's method, status code
and duration (a streaming reply: until the stream ends).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from edge.store.auth import AccessDeniedError, Authenticator, Principal, bearer_token

log = logging.getLogger(__name__)

_CODES = {
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
}


class _Malformed:
    def __init__(self, reason: str) -> None:
        self.reason = reason


class PrincipalContext:
    """A ServicerContext that also knows who is calling."""

    def __init__(self, inner: grpc.ServicerContext, principal: Principal) -> None:
        self._inner = inner
        self.principal = principal

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def principal_of(context: grpc.ServicerContext) -> Principal:
    principal = getattr(context, "principal", None)
    if not isinstance(principal, Principal):
        raise RuntimeError("servicer called without the auth interceptor")
    return principal


def _safe(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def run(data: bytes) -> Any:
        try:
            return deserialize(data)
        except (DecodeError, ValueError, TypeError) as e:
            return _Malformed(str(e) or type(e).__name__)

    return run


def _check_message(request: Any, context: grpc.ServicerContext, method: str) -> None:
    if isinstance(request, _Malformed):
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"request to {method} is not a valid protobuf message ({request.reason[:120]})",
        )


#: (method, status code name, seconds) of one finished call
CallObserver = Callable[[str, str, float], None]


def _code(context: grpc.ServicerContext) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


class _Timed:
    """Calls the observer once per call, with the code the call ended with."""

    def __init__(self, observer: CallObserver | None, method: str) -> None:
        self._observer = observer
        self._method = method
        self._started = time.perf_counter()

    def done(self, code: str) -> None:
        if self._observer is not None:
            self._observer(self._method, code, time.perf_counter() - self._started)

    def unary(self, call: Callable[[], Any], context: grpc.ServicerContext) -> Any:
        try:
            result = call()
        except BaseException:
            self.done(_code(context))
            raise
        self.done("OK")
        return result

    def stream(
        self, call: Callable[[], Iterator[Any]], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        code = "OK"
        try:
            yield from call()
        except GeneratorExit:  # the client went away
            code = "CANCELLED"
            raise
        except BaseException:
            code = _code(context)
            raise
        finally:
            self.done(code)


class AuthInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, authenticator: Authenticator, observer: CallObserver | None = None) -> None:
        self._auth = authenticator
        self._observer = observer

    def _principal(
        self, method: str, token: str | None, context: grpc.ServicerContext
    ) -> Principal:
        certs = context.auth_context().get("x509_pem_cert") or [None]
        try:
            return self._auth.authenticate(method, certs[0], token)
        except AccessDeniedError as d:
            log.info("call refused", extra={"method": method, "code": d.code, "reason": d.message})
            context.abort(_CODES[d.code], d.message)
            raise  # unreachable: abort raises

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method: str = details.method
        token = bearer_token(details.invocation_metadata)
        principal = self._principal
        des, ser = _safe(handler.request_deserializer), handler.response_serializer

        def requests(it: Iterator[Any], ctx: grpc.ServicerContext) -> Iterator[Any]:
            for r in it:
                _check_message(r, ctx, method)
                yield r

        observer = self._observer

        def checked(req: Any, ctx: grpc.ServicerContext) -> PrincipalContext:
            p = principal(method, token, ctx)
            _check_message(req, ctx, method)
            return PrincipalContext(ctx, p)

        if handler.unary_unary:

            def uu(req: Any, ctx: grpc.ServicerContext) -> Any:
                def call() -> Any:
                    return handler.unary_unary(req, checked(req, ctx))

                return _Timed(observer, method).unary(call, ctx)

            return grpc.unary_unary_rpc_method_handler(uu, des, ser)
        if handler.unary_stream:

            def us(req: Any, ctx: grpc.ServicerContext) -> Any:
                def call() -> Iterator[Any]:
                    return iter(handler.unary_stream(req, checked(req, ctx)))

                return _Timed(observer, method).stream(call, ctx)

            return grpc.unary_stream_rpc_method_handler(us, des, ser)

        def authed(ctx: grpc.ServicerContext) -> PrincipalContext:
            return PrincipalContext(ctx, principal(method, token, ctx))

        if handler.stream_unary:

            def su(it: Iterator[Any], ctx: grpc.ServicerContext) -> Any:
                def call() -> Any:
                    return handler.stream_unary(requests(it, ctx), authed(ctx))

                return _Timed(observer, method).unary(call, ctx)

            return grpc.stream_unary_rpc_method_handler(su, des, ser)

        def ss(it: Iterator[Any], ctx: grpc.ServicerContext) -> Any:
            def call() -> Iterator[Any]:
                return iter(handler.stream_stream(requests(it, ctx), authed(ctx)))

            return _Timed(observer, method).stream(call, ctx)

        return grpc.stream_stream_rpc_method_handler(ss, des, ser)

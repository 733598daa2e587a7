"""Why a mutual-TLS connection to the store fails, in one sentence that names the side.

gRPC reports every failed connection as UNAVAILABLE with transport text that changes
between versions, and when the store refuses a client certificate its gRPC server just
closes the connection, so the client reads only "Socket closed". ``check_tls`` repeats
the handshake with Python's ssl module and the same three files, then says who refused
what:

* ``unreachable``: no TCP connection at all (nothing listens, wrong address, firewall);
* ``store_certificate``: this side refused the store's certificate (not signed by the
  configured CA, issued for another host name, expired);
* ``client_certificate``: the store refused this side's certificate (it closes the
  connection right after the handshake); the reason is found locally when it can be
  (expired, not yet valid, not from the deployment CA);
* ``local_files``: the CA, certificate or key file cannot be used at all;
* ``ok``: both sides accept each other (the failure was something else).

Only the files and the address are read; nothing is logged here.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature

Outcome = Literal["ok", "unreachable", "store_certificate", "client_certificate", "local_files"]
#: outcomes that retrying cannot fix: a person has to change a certificate or a config
REFUSALS: frozenset[Outcome] = frozenset({"store_certificate", "client_certificate", "local_files"})

#: an HTTP/2 client preface and an empty SETTINGS frame: a store that accepted the
#: certificate answers with its own SETTINGS, one that refused it closes the connection
_H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_HOST_PORT = re.compile(r"^\[?(?P<host>[^\]]+)\]?:(?P<port>\d+)$")
#: OpenSSL verify codes meaning "no chain to a trusted CA"
_UNTRUSTED = {2, 7, 18, 19, 20, 21, 27}
_EXPIRED, _NOT_YET_VALID = 10, 9
_HOST_MISMATCH = {62, 64}


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The files a client presents, and how its config names them in messages."""

    ca: Path
    cert: Path
    key: Path
    #: config key prefix: "tls." in a gateway config, "" in a person's client config
    keys: str = "tls."
    who: str = "this gateway"


@dataclass(frozen=True, slots=True)
class TlsVerdict:
    outcome: Outcome
    message: str  # empty for "ok"

    @property
    def refused(self) -> bool:
        return self.outcome in REFUSALS


def check_tls(address: str, files: TlsFiles, timeout_s: float = 5.0) -> TlsVerdict:
    """Connect to ``address`` (host:port) the way a gRPC client with ``files`` does."""
    m = _HOST_PORT.match(address)
    if m is None:
        return TlsVerdict("local_files", f"store address {address!r} is not host:port")
    host, port = m["host"], int(m["port"])
    try:
        context = _context(files)
    except _FileError as e:
        return TlsVerdict("local_files", str(e))
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e)).lower()
        return TlsVerdict("unreachable", f"the store at {address} is not reachable ({why})")
    with sock:
        return _handshake(sock, context, host, address, files)


class _FileError(Exception):
    pass


def _context(files: TlsFiles) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    ctx.set_alpn_protocols(["h2"])
    k = files.keys
    try:
        ctx.load_verify_locations(cafile=str(files.ca))
    except (OSError, ssl.SSLError) as e:
        raise _FileError(f"{k}ca ({files.ca}) holds no usable PEM certificate: {_why(e)}") from None
    try:
        ctx.load_cert_chain(str(files.cert), str(files.key))
    except (OSError, ssl.SSLError) as e:
        raise _FileError(
            f"{k}cert ({files.cert}) and {k}key ({files.key}) are not a usable certificate "
            f"and its key: {_why(e)}"
        ) from None
    return ctx


def _why(e: Exception) -> str:
    if isinstance(e, ssl.SSLError) and e.reason:
        return str(e.reason).lower().replace("_", " ")
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    return str(e)


def _handshake(
    sock: socket.socket, ctx: ssl.SSLContext, host: str, address: str, files: TlsFiles
) -> TlsVerdict:
    try:
        tls = ctx.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as e:
        return TlsVerdict("store_certificate", _store_refused(e, host, address, files))
    except (ssl.SSLError, OSError) as e:  # an alert or a close during the handshake
        return TlsVerdict("client_certificate", _client_refused(files, address, _why(e)))
    # TLS 1.3: the store checks this side's certificate after the handshake completes
    # here, and refuses it by closing the connection before its first HTTP/2 frame
    try:
        tls.sendall(_H2_HELLO)
        answer = tls.recv(1)
    except TimeoutError:
        return TlsVerdict("ok", "")  # accepted, just slow to speak
    except (ssl.SSLError, OSError) as e:
        return TlsVerdict("client_certificate", _client_refused(files, address, _why(e)))
    finally:
        tls.close()
    if not answer:
        return TlsVerdict("client_certificate", _client_refused(files, address, ""))
    return TlsVerdict("ok", "")


def _store_refused(
    e: ssl.SSLCertVerificationError, host: str, address: str, files: TlsFiles
) -> str:
    head = f"{files.who} refused the store at {address}: "
    if e.verify_code in _UNTRUSTED:
        return (
            head + f"the store's certificate is not signed by the CA in {files.keys}ca ({files.ca})"
        )
    if e.verify_code in _HOST_MISMATCH:
        names = _server_names(address)
        named = f" (it names {', '.join(names)})" if names else ""
        return (
            head + f"the store's certificate is not valid for {host}{named}; connect to a name "
            "it holds or reissue the store's certificate for this one"
        )
    if e.verify_code == _EXPIRED:
        return head + "the store's certificate has expired"
    if e.verify_code == _NOT_YET_VALID:
        return head + "the store's certificate is not valid yet (check both clocks)"
    return head + f"the store's certificate failed verification ({e.verify_message})"


def _server_names(address: str) -> list[str]:
    """The names in the store's certificate (fetched without verifying it)."""
    m = _HOST_PORT.match(address)
    if m is None:
        return []
    try:
        pem = ssl.get_server_certificate((m["host"], int(m["port"])), timeout=5)
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ssl.SSLError, ValueError, x509.ExtensionNotFound):
        return []
    return [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] + list(
        san.get_values_for_type(x509.DNSName)
    )


def _client_refused(files: TlsFiles, address: str, alert: str) -> str:
    mine = f"{files.keys}cert {files.cert}"
    head = f"the store at {address} refused {files.who}'s certificate ({mine}): "
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    except (OSError, ValueError):
        return head + (alert or "the store closed the connection after the TLS handshake")
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        return head + f"it expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    if cert.not_valid_before_utc > now:
        return head + (
            f"it is valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC "
            "(check this machine's clock)"
        )
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return head + (
            f"it is not signed by the deployment CA in {files.keys}ca ({files.ca}), "
            "the only CA the store trusts"
        )
    how = f"TLS alert: {alert}" if alert else "it closed the connection after the handshake"
    return head + (
        f"it is valid here and signed by the CA in {files.keys}ca, yet the store did not "
        f"accept it ({how}): the store's own tls.ca is probably another CA, or its clock is off"
    )

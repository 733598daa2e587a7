"""Configuration of a person's client of the store (`kind: client`).

The store's gRPC port is mutual TLS for every caller (grpc's Python server can only
require client certificates for all or none), so a person has a client certificate
(URI SAN ``spiffe://edgewatch/user/NAME``) that opens the connection, and a bearer
token that decides what they may do. The file holds the token: keep it mode 0600
(`edgewatch init` does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from edge.api.types import Role
from edge.config import Address, StrictModel
from edge.ids import ID_PATTERN


class ClientConfig(StrictModel):
    kind: Literal["client"] = "client"
    store: Address = Field(description="store gRPC address host:port, e.g. 127.0.0.1:7443")
    ca: Path = Field(description="PEM CA that signed the store's server certificate")
    cert: Path = Field(description="this person's PEM client certificate")
    key: Path = Field(description="its private key (mode 0600)")
    name: str = Field(pattern=ID_PATTERN, description="the user this token belongs to")
    token: SecretStr = Field(min_length=16, description="bearer token (never logged)")
    role: Role = Field(description="role hint; the store decides what the token may do")
    web_url: str | None = Field(default=None, description="reviewer web page, if served")

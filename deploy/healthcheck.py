#!/usr/bin/env python3
"""Probe the store's standard gRPC health service over mutual TLS; exit 0 if SERVING.

Kubernetes' built-in grpc probe cannot do TLS, and the store's port requires a client
certificate of the deployment CA from every caller, so containers and monitors run
this instead. The health service is public in the store's access policy: any client
certificate of the CA works, without a bearer token (use a dedicated "probe"
certificate that has no token and can therefore do nothing else).

    edgewatch-healthcheck --addr 127.0.0.1:7443 --ca ca.pem --cert probe.pem \
        --key probe.key [--server-name localhost] [--service edge.v1.Ingest]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--addr", default="127.0.0.1:7443", help="store gRPC host:port")
    p.add_argument("--ca", required=True, type=Path, help="PEM CA of the store's certificate")
    p.add_argument("--cert", required=True, type=Path, help="PEM client certificate")
    p.add_argument("--key", required=True, type=Path, help="its PEM private key")
    p.add_argument("--server-name", default="", help="name to check in the server cert")
    p.add_argument("--service", default="", help="service to ask about ('' = the server)")
    p.add_argument("--timeout", type=float, default=3.0, metavar="S")
    args = p.parse_args(argv)
    try:
        creds = grpc.ssl_channel_credentials(
            root_certificates=args.ca.read_bytes(),
            private_key=args.key.read_bytes(),
            certificate_chain=args.cert.read_bytes(),
        )
    except OSError as e:
        sys.stderr.write(f"unhealthy: cannot read {e.filename}: {e.strerror}\n")
        return 2
    options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
    with grpc.secure_channel(args.addr, creds, options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as e:
            sys.stderr.write(f"unhealthy: {e.code().name}: {e.details()}\n")
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        sys.stderr.write(f"unhealthy: {status}\n")
        return 1
    sys.stdout.write(f"{status}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generated from proto/edge/v1 by `python -m edge.wire.gen`; do not edit."""

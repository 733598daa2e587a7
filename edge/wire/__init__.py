"""Wire layer: generated protobuf/gRPC code (v1/) and the one proto <-> domain mapping."""

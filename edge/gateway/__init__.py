"""Camera gateway: sources, pipeline, evidence builder, outbox, uplink."""

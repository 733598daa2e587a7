"""What the store and its clients exchange: request and response types (pure values).

The store's servicers and web API, the reviewer CLI's client and the gateway's uplink
all speak in these types; edge/wire/*_mapping.py converts them to and from protobuf.
Nothing here imports the store, the gateway, vision or any I/O.
"""

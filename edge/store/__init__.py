"""Central evidence store: ingest, repository, blobs, auth, audit, review web page."""

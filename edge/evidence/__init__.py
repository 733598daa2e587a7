"""Evidence: match events, their canonical encoding, signatures and hash chains (pure)."""

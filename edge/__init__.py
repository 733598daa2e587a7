"""EdgeWatch: edge face and Chinese licence-plate recognition with signed evidence."""

__version__ = "0.1.0"

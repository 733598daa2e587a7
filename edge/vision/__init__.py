"""Pure inference: numpy frames in, frozen dataclasses out. No network, clock or DB."""

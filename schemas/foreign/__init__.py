"""Partner formats in: pure adapters from foreign messages to contract events (see docs/interop.md)."""

"""The HTTP side: API, health, metrics (and, later, the dashboard)."""

"""The deterministic rule engine and every criterion of criteria.md, one module per area."""

"""CTPAT evidence: the incident package (docs/evidence.md), signed by the site's key and checkable offline."""

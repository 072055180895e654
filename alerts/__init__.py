"""Alert lifecycle: from rule findings to alerts (dedupe, auto-resolution, stable ids)."""

from sealguard.alerts.book import AlertBook, AlertRecord, alert_id

__all__ = ["AlertBook", "AlertRecord", "alert_id"]

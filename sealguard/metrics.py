"""Prometheus metrics (the default registry), named ``sealguard_*``."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_RECEIVED = Counter("sealguard_events_received_total", "Inputs received", ["source", "kind"])
EVENTS_REJECTED = Counter("sealguard_events_rejected_total", "Inputs dead-lettered", ["source", "reason"])
EVENTS_DUPLICATE = Counter("sealguard_events_duplicate_total", "Inputs ignored as duplicates", ["source"])
DEAD_LETTERS = Counter("sealguard_dead_letters_total", "Rows written to the dead-letter table", ["source"])
PROCESSING_LATENCY = Histogram(
    "sealguard_processing_latency_seconds",
    "From receipt of an event to its findings and alerts being stored",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30),
)
DB_WRITE_LATENCY = Histogram(
    "sealguard_db_write_seconds",
    "Time to store one batch (events, alerts, history) in one transaction",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ALERTS_RAISED = Counter("sealguard_alerts_raised_total", "Alerts opened", ["rule", "severity"])
ALERT_CHANGES = Counter("sealguard_alert_changes_total", "Alert transitions", ["change"])
CONSUMER_LAG = Gauge("sealguard_consumer_lag", "Records behind the end of the topic", ["source", "partition"])
QUEUE_DEPTH = Gauge("sealguard_pipeline_queue_depth", "Inputs waiting for the rule engine")
DB_UP = Gauge("sealguard_database_up", "1 when the last database operation succeeded")
BROKER_UP = Gauge("sealguard_broker_up", "1 when connected to the broker", ["source"])
NOTIFICATIONS = Counter(
    "sealguard_notifications_total",
    "Outbox rows by channel and outcome (sent, retry, failed, cancelled, silenced, inhibited)",
    ["channel", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "sealguard_notification_delivery_seconds",
    "Time of one delivery attempt to a receiver",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
NOTIFY_LATENCY = Histogram(
    "sealguard_notification_latency_seconds",
    "From the alert change (outbox row written) to the receiver accepting it, including waits and retries",
    ["channel"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
OUTBOX_DEPTH = Gauge("sealguard_outbox_depth", "Notifications waiting to be delivered")
OUTBOX_OLDEST_AGE = Gauge("sealguard_outbox_oldest_due_seconds", "How long the oldest due notification has waited")

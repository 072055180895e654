"""The transports' own metrics, bound to the registry the application passes in."""

from prometheus_client import CollectorRegistry, Gauge


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry when none is given: a transport built in a test exports nothing by accident.
        registry = registry if registry is not None else CollectorRegistry()
        self.broker_up = Gauge("sealguard_broker_up", "1 when connected to the broker", ["source"],
                               registry=registry)  # fmt: skip
        self.consumer_lag = Gauge("sealguard_consumer_lag", "Records behind the end of the topic",
                                  ["source", "partition"], registry=registry)  # fmt: skip

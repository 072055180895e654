"""Session servers for the live tests (imported here so every test folder can use them)."""

from tests.live.servers import database_url, kafka_broker, mqtt_broker, postgres

__all__ = ["database_url", "kafka_broker", "mqtt_broker", "postgres"]

"""Alert topics for machines: the monitor's MQTT broker (QoS 1, not retained) and Kafka.

Each sink connects lazily and reconnects after a failure, so a broker restart costs one retried
delivery, not a stuck notifier.
"""

import asyncio
import contextlib
import dataclasses

import aiomqtt
from aiokafka import AIOKafkaProducer

from sealguard.ingest.kafka import KafkaOptions
from sealguard.ingest.mqtt import MqttOptions


class MqttSink:
    def __init__(self, options: MqttOptions) -> None:
        # A clean, separate session: the monitor's own client id holds the event subscription.
        self.options = dataclasses.replace(options, client_id=f"{options.client_id}-alerts")
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()

    async def publish(self, topic: str, key: str, payload: bytes) -> None:
        async with self._lock:
            try:
                if self._client is None:
                    args = self.options.connect_args()
                    args.pop("properties", None)
                    args.pop("clean_start", None)
                    args.pop("clean_session", None)
                    client = aiomqtt.Client(**args)
                    await client.__aenter__()
                    self._client = client
                await self._client.publish(topic, payload, qos=1, timeout=10)
            except Exception:
                await self.close()
                raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)


class KafkaSink:
    def __init__(self, options: KafkaOptions) -> None:
        self.options = options
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def publish(self, topic: str, key: str, payload: bytes) -> None:
        async with self._lock:
            try:
                if self._producer is None:
                    producer = AIOKafkaProducer(acks="all", **self.options.client_args())
                    await producer.start()
                    self._producer = producer
                await self._producer.send_and_wait(topic, payload, key=key.encode())
            except Exception:
                await self.close()
                raise

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

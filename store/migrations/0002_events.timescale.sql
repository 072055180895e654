-- Events as a TimescaleDB hypertable: daily chunks, compression after 7 days, retention 400 days.
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE events (
    seq           bigint      NOT NULL,
    tenant        text        NOT NULL,
    event_id      text        NOT NULL,
    kind          text        NOT NULL,
    conveyance_id text,
    trip_id       text,
    occurred_at   timestamptz NOT NULL,
    received_at   timestamptz NOT NULL,
    source        text        NOT NULL,
    payload       jsonb       NOT NULL
);
SELECT create_hypertable('events', 'occurred_at', chunk_time_interval => INTERVAL '1 day');
CREATE INDEX events_seq ON events (seq);
CREATE INDEX events_conveyance ON events (tenant, conveyance_id, occurred_at);
ALTER TABLE events SET (timescaledb.compress, timescaledb.compress_segmentby = 'tenant, conveyance_id',
                        timescaledb.compress_orderby = 'occurred_at');
SELECT add_compression_policy('events', INTERVAL '7 days');
SELECT add_retention_policy('events', INTERVAL '400 days');

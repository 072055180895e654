-- Events, partitioned by day on event time (PostgreSQL native range partitioning). Daily partitions
-- are created ahead of each write by the writer; the default partition only catches a race.
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
) PARTITION BY RANGE (occurred_at);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_seq ON events (seq);
CREATE INDEX events_conveyance ON events (tenant, conveyance_id, occurred_at);

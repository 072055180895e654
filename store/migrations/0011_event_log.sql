-- The embedded log (docs/partitioning.md, "one path"): what `sealguard up`'s gateway admitted, in
-- partitions and offsets as Kafka would hold it, read by the same worker loop as the split roles. A
-- partition's head row is locked by each append, so offsets are gap-free and commit in order. Rows
-- before a partition's checkpoint are deleted (the worker never reads them again); the event id index
-- makes an event still on its way a duplicate at the edge.
CREATE TABLE event_log (
    partition   int    NOT NULL,
    "offset"    bigint NOT NULL,
    key         bytea,
    value       bytea  NOT NULL,
    control     text,              -- a control record's verb (release, advance); NULL for an event
    source      text   NOT NULL,   -- the transport the gateway received it from
    received_ms bigint NOT NULL,
    tenant      text,
    event_id    text,
    PRIMARY KEY (partition, "offset")
);
CREATE UNIQUE INDEX event_log_event ON event_log (tenant, event_id) WHERE event_id IS NOT NULL;

CREATE TABLE event_log_heads (
    partition   int    PRIMARY KEY,
    next_offset bigint NOT NULL
);

-- The single engine's snapshots, ticks and releases (the old `up`) are no longer written: `up` runs the
-- worker's checkpoints. They are kept, not dropped, so that a site upgraded while trips were open still
-- holds the state a rebuild would start from (README, "Upgrading").

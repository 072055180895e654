-- Incremental checkpoints: a partition's engine state as one row per conveyance and per tenant, upserted
-- when they change; the engine-wide part and the alert book stay in partition_checkpoints.data.
CREATE TABLE partition_state (
    topic     text  NOT NULL,
    partition int   NOT NULL,
    key       text  NOT NULL,
    data      jsonb NOT NULL,
    PRIMARY KEY (topic, partition, key)
);

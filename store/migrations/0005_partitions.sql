-- The split roles (docs/partitioning.md). Each Kafka partition's next offset lives beside the effects of
-- its batches (same transaction: exactly-once effects without Kafka transactions), with its latest
-- checkpoint and the idle ticks that fired its timers between records. Reference data is a broadcast
-- table a gateway writes before it acknowledges; trip ids are decided there too. The seal stage keeps
-- every fact of each seal. Workers keep a projection of each conveyance's state for the api role.

CREATE TABLE partition_offsets (
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL,
    owner       text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

CREATE TABLE partition_checkpoints (
    topic        text   NOT NULL,
    partition    int    NOT NULL,
    next_offset  bigint NOT NULL,
    last_tick_id bigint NOT NULL,
    data         jsonb  NOT NULL,
    taken_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

CREATE TABLE partition_ticks (
    id        bigserial PRIMARY KEY,
    topic     text   NOT NULL,
    partition int    NOT NULL,
    at_offset bigint NOT NULL,  -- applied before the record at this offset
    tenant    text   NOT NULL,
    until_ts  double precision NOT NULL
);
CREATE INDEX partition_ticks_at ON partition_ticks (topic, partition, id);

CREATE TABLE reference_events (
    id          bigserial PRIMARY KEY,
    tenant      text NOT NULL,
    event_id    text NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    UNIQUE (tenant, event_id)
);

CREATE TABLE trip_owners (
    tenant        text    NOT NULL,
    trip_id       text    NOT NULL,
    conveyance_id text    NOT NULL,
    closed        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, trip_id)
);

CREATE TABLE seal_facts (
    tenant        text   NOT NULL,
    seal          text   NOT NULL,
    event_id      text   NOT NULL,
    seal_number   text   NOT NULL,
    kind          text   NOT NULL,
    conveyance_id text   NOT NULL,
    trip_id       text,
    at            double precision NOT NULL,
    position      bigint NOT NULL,
    reuse_raised  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, seal, event_id)
);

CREATE TABLE conveyance_state (
    tenant        text  NOT NULL,
    conveyance_id text  NOT NULL,
    view          jsonb NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant, conveyance_id)
);

CREATE SEQUENCE reference_seq;

-- The current trip's geometry for the api role's map (the plan as the engine reads it).
ALTER TABLE trips ADD COLUMN geometry jsonb;

-- Control records for the workers written with the change that causes them (a person resolved an
-- alert: its worker's book must release it), relayed to Kafka by the api role.
CREATE TABLE worker_controls (
    id         bigserial PRIMARY KEY,
    key        bytea NOT NULL,
    verb       text  NOT NULL,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX worker_controls_pending ON worker_controls (id) WHERE sent_at IS NULL;

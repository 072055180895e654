-- Reference data, dedupe index, engine log, dead letters, alerts and their audit history, tokens.

CREATE TABLE event_ids (
    tenant      text        NOT NULL,
    event_id    text        NOT NULL,
    seq         bigint      NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, event_id)
);

-- Clock advances that fired timers, in the same sequence as events, so recovery replays them in order.
CREATE TABLE engine_ticks (
    seq      bigint PRIMARY KEY,
    until_ts double precision NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE engine_snapshots (
    id       bigserial PRIMARY KEY,
    seq      bigint      NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    data     jsonb       NOT NULL
);

CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL,
    source      text        NOT NULL,
    origin      jsonb       NOT NULL,
    tenant      text,
    event_id    text,
    reason      text        NOT NULL,
    raw         bytea       NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);

CREATE TABLE facilities (
    tenant      text NOT NULL,
    facility_id text NOT NULL,
    place       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant, facility_id)
);

CREATE TABLE trips (
    tenant        text NOT NULL,
    trip_id       text NOT NULL,
    conveyance_id text NOT NULL,
    plan          jsonb NOT NULL,
    status        text NOT NULL,
    planned_at    timestamptz NOT NULL,
    closed_at     timestamptz,
    PRIMARY KEY (tenant, trip_id)
);
CREATE INDEX trips_conveyance ON trips (tenant, conveyance_id);

CREATE TABLE seals (
    tenant        text NOT NULL,
    seal_number   text NOT NULL,
    conveyance_id text,
    state         text NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_event_id text NOT NULL,
    PRIMARY KEY (tenant, seal_number)
);

CREATE TABLE alerts (
    alert_id        uuid PRIMARY KEY,
    tenant          text NOT NULL,
    rule_id         text NOT NULL,
    severity        text NOT NULL,
    conveyance_id   text,
    trip_id         text,
    occurred_at     timestamptz NOT NULL,
    message         text NOT NULL,
    criterion       text NOT NULL,
    evidence        jsonb NOT NULL,
    dedup_key       text NOT NULL,
    status          text NOT NULL,
    resolved_at     timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_by     text,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX alerts_tenant_status ON alerts (tenant, status, occurred_at);
CREATE INDEX alerts_conveyance ON alerts (tenant, conveyance_id, occurred_at);

-- Append-only; each row hashes its content and the previous row's hash (one chain per tenant).
CREATE TABLE alert_history (
    tenant    text   NOT NULL,
    chain_seq bigint NOT NULL,
    alert_id  uuid   NOT NULL,
    action    text   NOT NULL,
    actor     text   NOT NULL,
    note      text,
    at        timestamptz NOT NULL,
    detail    jsonb  NOT NULL,
    prev_hash text   NOT NULL,
    hash      text   NOT NULL,
    PRIMARY KEY (tenant, chain_seq)
);
CREATE INDEX alert_history_alert ON alert_history (alert_id);

CREATE TABLE alert_chain_heads (
    tenant    text PRIMARY KEY,
    chain_seq bigint NOT NULL,
    hash      text   NOT NULL
);

CREATE TABLE api_tokens (
    token_hash text PRIMARY KEY,
    tenant     text NOT NULL,
    role       text NOT NULL,
    facility   text,
    label      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Alert lifecycle details, the notification outbox, silences, and the engine's record of alerts
-- resolved by a person (so a rebuilt engine forgets them at the same point of the log).
ALTER TABLE alerts ADD COLUMN facility_id text;
ALTER TABLE alerts ADD COLUMN assignee text;
ALTER TABLE alerts ADD COLUMN resolve_requested_by text;

CREATE TABLE engine_releases (
    seq        bigint PRIMARY KEY,
    dedup_key  text NOT NULL,
    alert_id   uuid NOT NULL
);

-- One row per (alert, receiver, tier, kind) notification. Written in the alert change's transaction,
-- drained by notifiers (FOR UPDATE SKIP LOCKED); rows of one delivery share a batch_id, which is the
-- idempotency key sent to the receiver and kept across retries.
CREATE TABLE outbox (
    id               bigserial PRIMARY KEY,
    tenant           text NOT NULL,
    alert_id         uuid NOT NULL,
    receiver         text NOT NULL,
    channel          text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('trigger', 'acknowledge', 'resolve')),
    tier             int NOT NULL DEFAULT 0,
    route            text NOT NULL,
    group_key        text NOT NULL,
    group_interval   double precision NOT NULL DEFAULT 0,
    repeat_interval  double precision,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'silenced', 'inhibited')),
    due_at           timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    deadline_at      timestamptz NOT NULL,
    batch_id         uuid,
    lease_until      timestamptz,
    attempts         int NOT NULL DEFAULT 0,
    last_error       text,
    reason           text,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_alert ON outbox (alert_id);

-- When each notification group last sent, for group_interval.
CREATE TABLE notify_groups (
    receiver     text NOT NULL,
    group_key    text NOT NULL,
    last_sent_at timestamptz NOT NULL,
    PRIMARY KEY (receiver, group_key)
);

CREATE TABLE silences (
    silence_id  uuid PRIMARY KEY,
    tenant      text NOT NULL,
    matchers    jsonb NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    created_by  text NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL,
    expired_at  timestamptz,
    CHECK (ends_at > starts_at)
);
CREATE INDEX silences_active ON silences (tenant, ends_at);

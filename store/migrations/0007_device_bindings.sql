-- Which conveyance a foreign device (a Traccar tracker, an OwnTracks phone, an e-lock, a seal EPC) reports
-- for, and when: a tracker moves from one trailer to another, so a binding has a validity period, and a
-- message is bound by its own event time. Periods of one device in one tenant never overlap (the store
-- takes a per-device lock and closes or refuses; see store/device_bindings.py).
CREATE TABLE device_bindings (
    id            bigserial   PRIMARY KEY,
    tenant        text        NOT NULL,
    device_id     text        NOT NULL,
    conveyance_id text        NOT NULL,
    seal_number   text,
    valid_from    timestamptz NOT NULL,
    valid_until   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text        NOT NULL,
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX device_bindings_lookup ON device_bindings (tenant, device_id, valid_from DESC);

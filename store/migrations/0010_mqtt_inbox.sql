-- The embedded broker's front door writes what devices publish here before it acknowledges them
-- (store/mqtt_inbox.py); the monitor reads it in id order and deletes each row once it is handled.
CREATE TABLE mqtt_inbox (
    id          bigserial   PRIMARY KEY,
    topic       text        NOT NULL,
    payload     bytea       NOT NULL,
    client      text        NOT NULL,
    received_at timestamptz NOT NULL
);

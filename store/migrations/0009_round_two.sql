-- Hold under attack, second round.

-- The two-person rule tells people apart by identity (person:{id}), never by the name shown.
ALTER TABLE alerts ADD COLUMN resolve_requested_id text;

-- Failed sign-ins, counted per key: the account named (whether or not it exists, so that an answer never
-- tells which names do), the account from one address, one address over all accounts, and one trusted
-- browser (a device cookie). A lock ends at locked_until, and its count starts again then.
CREATE TABLE signin_throttle (
    key          text        PRIMARY KEY,  -- 'account:{sha256}', 'pair:{sha256}', 'address:{ip}', 'device:{sha256}'
    failures     integer     NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX signin_throttle_updated ON signin_throttle (updated_at);

-- Browsers a person has signed in from (OWASP's device cookies): such a browser is not locked out by
-- failures from elsewhere, only by its own. Only the cookie's SHA-256 is stored.
CREATE TABLE signin_devices (
    secret_hash text        PRIMARY KEY,
    person_id   bigint      NOT NULL REFERENCES people (id),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX signin_devices_person ON signin_devices (person_id);

-- A single sign-on session re-checks the person at the identity provider (userinfo) every few minutes.
ALTER TABLE web_sessions ADD COLUMN oidc_access_token text;
ALTER TABLE web_sessions ADD COLUMN oidc_refresh_token text;
ALTER TABLE web_sessions ADD COLUMN checked_at timestamptz;

-- Dead letters keep a bounded prefix of what came, with its size and SHA-256, under a daily quota per
-- tenant and sender; past it only the count and the bytes are kept here.
ALTER TABLE dead_letters ADD COLUMN raw_size bigint;
ALTER TABLE dead_letters ADD COLUMN raw_sha256 text;
ALTER TABLE dead_letters ADD COLUMN sender text;
CREATE TABLE dead_letter_usage (
    day        date   NOT NULL,
    tenant     text   NOT NULL,  -- '' when none is known
    sender     text   NOT NULL,  -- 'token:{id}', 'person:{id}', or the transport
    letters    bigint NOT NULL DEFAULT 0,
    kept_bytes bigint NOT NULL DEFAULT 0,
    dropped    bigint NOT NULL DEFAULT 0,  -- past the quota: counted, not stored
    PRIMARY KEY (day, tenant, sender)
);

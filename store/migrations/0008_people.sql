-- People who sign in to the pages (local accounts, or identities from an OpenID Connect provider), their
-- browser sessions, and the single-use records of sign-ins in flight at a provider. API tokens stay for
-- devices and machines (api_tokens); what a person does is recorded under the person's name.
CREATE TABLE people (
    id               bigserial   PRIMARY KEY,
    username         text        NOT NULL UNIQUE,
    display_name     text        NOT NULL,
    tenant           text        NOT NULL,
    role             text        NOT NULL CHECK (role IN ('scanner', 'operator', 'admin')),
    facility         text,
    password_hash    text,                  -- scrypt; NULL for a person who signs in only through the IdP
    totp_secret      text,                  -- base32; NULL when the second factor is off
    totp_last_step   bigint      NOT NULL DEFAULT 0,   -- a code is good once (RFC 6238 section 5.2)
    oidc_issuer      text,
    oidc_subject     text,
    failed_logins    integer     NOT NULL DEFAULT 0,
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz,
    UNIQUE (oidc_issuer, oidc_subject)
);

CREATE TABLE web_sessions (
    id            bigserial   PRIMARY KEY,
    secret_hash   text        NOT NULL UNIQUE,  -- SHA-256 of the cookie's value; the value is never stored
    person_id     bigint      NOT NULL REFERENCES people (id),
    csrf          text        NOT NULL,
    method        text        NOT NULL,         -- 'password', 'password+totp' or 'oidc'
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    client        text
);
CREATE INDEX web_sessions_person ON web_sessions (person_id) WHERE revoked_at IS NULL;

CREATE TABLE signin_attempts (
    state_hash    text        PRIMARY KEY,      -- SHA-256 of the OAuth state; the browser holds the state
    code_verifier text        NOT NULL,
    nonce         text        NOT NULL,
    next_path     text        NOT NULL,
    expires_at    timestamptz NOT NULL
);

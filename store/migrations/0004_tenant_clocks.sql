-- One clock per tenant: a clock tick advances one tenant (NULL: every tenant, as ticks before this did).
-- Tokens get a public id, so they can be listed and revoked without the secret, and the PBKDF2 hash a
-- Mosquitto password file needs (NULL for tokens made before: re-create them for MQTT).
ALTER TABLE engine_ticks ADD COLUMN tenant text;
ALTER TABLE api_tokens ADD COLUMN id bigserial;
ALTER TABLE api_tokens ADD COLUMN mqtt_hash text;
CREATE UNIQUE INDEX api_tokens_id ON api_tokens (id);

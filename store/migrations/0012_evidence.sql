-- Evidence for an incident package (docs/evidence.md): each event's bytes as its sender sent them and,
-- where an adapter made it, the partner's message as it came; photos taken at the dock.

-- The log carries them from the edge to the worker (Kafka carries them as headers).
ALTER TABLE event_log ADD COLUMN original bytea, ADD COLUMN partner text;

-- original: the sender's bytes (NULL for events stored before this migration: their payload is all there
-- is). partner_format / partner_sha256: the partner's message an adapter mapped into this event.
ALTER TABLE events ADD COLUMN original bytea, ADD COLUMN partner_format text, ADD COLUMN partner_sha256 text;

-- A partner's message as it came, once however many events it made (a DCSA batch of a thousand events is
-- kept once, not a thousand times).
CREATE TABLE partner_messages (
    tenant      text        NOT NULL,
    sha256      text        NOT NULL,
    format      text        NOT NULL,
    received_at timestamptz NOT NULL,
    message     bytea       NOT NULL,
    PRIMARY KEY (tenant, sha256)
);

-- A photo of a seal or of the doors, attached to the inspection or seal check (event_id) it was taken for.
-- The bytes are kept as stored (EXIF location stripped or kept as the site's policy said); sha256 is of
-- exactly those bytes, so the package's manifest and this row name the same file.
CREATE TABLE photos (
    photo_id      uuid        PRIMARY KEY,
    tenant        text        NOT NULL,
    event_id      text        NOT NULL,
    conveyance_id text,
    trip_id       text,
    subject       text        NOT NULL,  -- seal, doors, other
    content_type  text        NOT NULL,
    bytes         int         NOT NULL,
    sha256        text        NOT NULL,
    location      text        NOT NULL,  -- what became of an EXIF location: none, stripped, kept
    taken_by      text        NOT NULL,
    uploaded_at   timestamptz NOT NULL,
    data          bytea       NOT NULL
);
CREATE INDEX photos_event ON photos (tenant, event_id);
CREATE INDEX photos_trip ON photos (tenant, trip_id);

-- The compliance figures find each trip's inspections, seals and arrival checks among its conveyance's
-- fixes: an index of those kinds only (a few rows per trip, not every GPS fix).
CREATE INDEX events_checks ON events (tenant, conveyance_id, occurred_at)
    WHERE kind IN ('inspection.completed', 'seal.affixed', 'seal.verified');

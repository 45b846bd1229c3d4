-- Live streams. A stream belongs to one farmer, shows some of the farmer's listings and features
-- one of them. The publish token that lets a camera send video is stored only as its SHA-256 hash.
-- Whether a camera is connected right now is the relay's state, not stored: a restarted server
-- has no connected cameras.
CREATE TABLE streams (
    id                  TEXT    PRIMARY KEY,
    coop_id             TEXT    NOT NULL REFERENCES coops (id),
    farmer_id           TEXT    NOT NULL REFERENCES members (id),
    title               TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('open', 'ended')),
    publish_token_hash  TEXT    NOT NULL UNIQUE,
    featured_listing_id TEXT    NOT NULL REFERENCES listings (id),
    created_at          INTEGER NOT NULL,
    -- The first time a camera connected.
    started_at          INTEGER,
    ended_at            INTEGER CHECK ((status = 'ended') = (ended_at IS NOT NULL))
) STRICT;
CREATE INDEX streams_by_farmer ON streams (farmer_id, created_at DESC);

CREATE TABLE stream_listings (
    stream_id  TEXT    NOT NULL REFERENCES streams (id),
    listing_id TEXT    NOT NULL REFERENCES listings (id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (stream_id, listing_id)
) STRICT;

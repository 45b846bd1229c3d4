-- Sync: what the marketplace last said about each entity, the device's account on it, its quotas,
-- and the refusals to show the person.
--
-- The tables of 0001 (listings, orders, quotas below) are the device's *view*: the marketplace's
-- state with the device's own changes not yet acknowledged applied on top. The server_* tables
-- hold the marketplace's state as last pulled (the domain value as JSON, and its version), so that
-- after every pull the view can be rebuilt exactly: server state, then the pending outbox.

ALTER TABLE orders ADD COLUMN shortfall_milli INTEGER NOT NULL DEFAULT 0 CHECK (shortfall_milli >= 0);

-- Known once the marketplace has the listing: its order link code and whose it is.
ALTER TABLE listings ADD COLUMN code TEXT;
ALTER TABLE listings ADD COLUMN farmer_id TEXT;
ALTER TABLE orders ADD COLUMN farmer_id TEXT;

-- The entity an outbox entry changes, so that the view can mark what is still pending.
ALTER TABLE outbox ADD COLUMN target TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_by_target ON outbox (target);

-- This device's quota per listing (stock it may sell offline), as seen locally.
CREATE TABLE quotas (
    listing_id     TEXT    PRIMARY KEY,
    quantity_milli INTEGER NOT NULL CHECK (quantity_milli >= 0)
) STRICT;

CREATE TABLE server_listings (
    id        TEXT    PRIMARY KEY,
    version   INTEGER NOT NULL,
    farmer_id TEXT    NOT NULL,
    code      TEXT    NOT NULL,
    body      TEXT    NOT NULL
) STRICT;

CREATE TABLE server_orders (
    id        TEXT    PRIMARY KEY,
    version   INTEGER NOT NULL,
    farmer_id TEXT    NOT NULL,
    body      TEXT    NOT NULL
) STRICT;

CREATE TABLE server_quotas (
    listing_id     TEXT    PRIMARY KEY,
    version        INTEGER NOT NULL,
    quantity_milli INTEGER NOT NULL CHECK (quantity_milli >= 0)
) STRICT;

-- The co-op's pickup points, replaced by every pull.
CREATE TABLE pickup_points (
    id      TEXT    PRIMARY KEY,
    name    TEXT    NOT NULL,
    address TEXT    NOT NULL,
    active  INTEGER NOT NULL CHECK (active IN (0, 1))
) STRICT;

-- Where the last pull ended, what the server has applied, and when the last full sync finished.
ALTER TABLE device ADD COLUMN cursor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device ADD COLUMN last_applied_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device ADD COLUMN last_synced_at INTEGER;

-- The pairing: which marketplace, with which token, as whom. One row at most.
CREATE TABLE account (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    server_url  TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    device_id   TEXT    NOT NULL,
    member_id   TEXT    NOT NULL,
    member_name TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    coop_id     TEXT    NOT NULL,
    coop_name   TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    paired_at   INTEGER NOT NULL
) STRICT;

-- Changes the marketplace refused, with its reason, for the person who made them.
CREATE TABLE refusals (
    seq         INTEGER PRIMARY KEY,
    mutation_id TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    code        TEXT    NOT NULL,
    field       TEXT,
    message     TEXT    NOT NULL,
    at          INTEGER NOT NULL
) STRICT;

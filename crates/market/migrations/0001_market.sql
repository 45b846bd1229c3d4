-- The marketplace's own database: co-ops and their people, devices, pickup points, listings,
-- orders and the keys that make buyers' orders idempotent. Money is integer minor units plus a
-- currency code; quantities are integer thousandths of the listing's unit. Listings and orders share
-- their core columns with the device store (crate sqlite-rows).

-- Monotonic counters. `version` numbers every change to a listing or an order, across the whole
-- server, so that a device can later ask for "everything after version N".
CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
INSERT INTO counters (name, value) VALUES ('version', 0);

CREATE TABLE coops (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    currency   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE members (
    id         TEXT    PRIMARY KEY,
    coop_id    TEXT    NOT NULL REFERENCES coops (id),
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'staff', 'farmer')),
    name       TEXT    NOT NULL,
    -- Farmers only: the farm page lives at /f/{farm_slug}.
    farm_slug  TEXT    UNIQUE CHECK ((role = 'farmer') = (farm_slug IS NOT NULL)),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX members_by_coop ON members (coop_id);

-- One-time codes a new device types to pair; stored as SHA-256 hashes.
CREATE TABLE pairing_codes (
    code_hash  TEXT    PRIMARY KEY,
    member_id  TEXT    NOT NULL REFERENCES members (id),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

-- Paired devices. The token itself is never stored, only its SHA-256 hash.
CREATE TABLE devices (
    id         TEXT    PRIMARY KEY,
    member_id  TEXT    NOT NULL REFERENCES members (id),
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX devices_by_member ON devices (member_id);

CREATE TABLE pickup_points (
    id         TEXT    PRIMARY KEY,
    coop_id    TEXT    NOT NULL REFERENCES coops (id),
    name       TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pickup_points_by_coop ON pickup_points (coop_id);

CREATE TABLE listings (
    id            TEXT    PRIMARY KEY,
    coop_id       TEXT    NOT NULL REFERENCES coops (id),
    farmer_id     TEXT    NOT NULL REFERENCES members (id),
    -- The short code of the order link /l/{code}.
    code          TEXT    NOT NULL UNIQUE,
    version       INTEGER NOT NULL,
    title         TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    unit          TEXT    NOT NULL,
    currency      TEXT    NOT NULL,
    price_minor   INTEGER NOT NULL CHECK (price_minor > 0),
    stock_milli   INTEGER NOT NULL CHECK (stock_milli >= 0),
    step_milli    INTEGER NOT NULL CHECK (step_milli > 0),
    minimum_milli INTEGER NOT NULL CHECK (minimum_milli > 0),
    maximum_milli INTEGER          CHECK (maximum_milli IS NULL OR maximum_milli >= minimum_milli),
    photos        TEXT    NOT NULL DEFAULT '[]',
    status        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX listings_by_coop ON listings (coop_id, updated_at DESC);
CREATE INDEX listings_by_farmer ON listings (farmer_id, updated_at DESC);

CREATE TABLE orders (
    id                TEXT    PRIMARY KEY,
    coop_id           TEXT    NOT NULL REFERENCES coops (id),
    farmer_id         TEXT    NOT NULL REFERENCES members (id),
    -- SHA-256 of the buyer's status-link token.
    status_token_hash TEXT    NOT NULL UNIQUE,
    version           INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    channel           TEXT    NOT NULL,
    payment_method    TEXT    NOT NULL,
    buyer_name        TEXT    NOT NULL,
    buyer_phone       TEXT    NOT NULL,
    fulfilment        TEXT    NOT NULL CHECK (fulfilment IN ('pickup', 'delivery')),
    pickup_point_id   TEXT             CHECK ((fulfilment = 'pickup') = (pickup_point_id IS NOT NULL)),
    delivery_address  TEXT             CHECK ((fulfilment = 'delivery') = (delivery_address IS NOT NULL)),
    currency          TEXT    NOT NULL,
    total_minor       INTEGER NOT NULL CHECK (total_minor >= 0),
    paid_minor        INTEGER NOT NULL CHECK (paid_minor >= 0 AND paid_minor <= total_minor),
    note              TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_by_coop ON orders (coop_id, created_at DESC, id DESC);
CREATE INDEX orders_by_farmer ON orders (farmer_id, created_at DESC, id DESC);

CREATE TABLE order_lines (
    order_id         TEXT    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    listing_id       TEXT    NOT NULL REFERENCES listings (id),
    title            TEXT    NOT NULL,
    unit             TEXT    NOT NULL,
    quantity_milli   INTEGER NOT NULL CHECK (quantity_milli > 0),
    unit_price_minor INTEGER NOT NULL,
    total_minor      INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
) STRICT;

-- Every payment recorded against an order, for the co-op's books.
CREATE TABLE payments (
    id           INTEGER PRIMARY KEY,
    order_id     TEXT    NOT NULL REFERENCES orders (id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    recorded_at  INTEGER NOT NULL
) STRICT;

-- A buyer's Idempotency-Key and a fingerprint of the request it came with: the same key with the
-- same request returns the same order; with a different request it is refused.
CREATE TABLE idempotency_keys (
    key         TEXT    PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    order_id    TEXT    NOT NULL REFERENCES orders (id),
    created_at  INTEGER NOT NULL
) STRICT;

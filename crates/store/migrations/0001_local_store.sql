-- The device's local store: what the farmer or the co-op sees, and the outbox of changes that have
-- not reached the marketplace yet. Money is integer minor units plus a currency code; quantities are
-- integer thousandths of the listing's unit.

-- Exactly one row: this device's identity in sync, and the next outbox sequence number. The counter
-- lives here, not in AUTOINCREMENT, so that "seq grows by one per device" is explicit and survives
-- the outbox being emptied.
CREATE TABLE device (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    client_id TEXT    NOT NULL,
    next_seq  INTEGER NOT NULL CHECK (next_seq >= 1)
) STRICT;

CREATE TABLE listings (
    id            TEXT    PRIMARY KEY,
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

CREATE TABLE orders (
    id               TEXT    PRIMARY KEY,
    status           TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    payment_method   TEXT    NOT NULL,
    buyer_name       TEXT    NOT NULL,
    buyer_phone      TEXT    NOT NULL,
    fulfilment       TEXT    NOT NULL CHECK (fulfilment IN ('pickup', 'delivery')),
    pickup_point_id  TEXT             CHECK ((fulfilment = 'pickup') = (pickup_point_id IS NOT NULL)),
    delivery_address TEXT             CHECK ((fulfilment = 'delivery') = (delivery_address IS NOT NULL)),
    currency         TEXT    NOT NULL,
    total_minor      INTEGER NOT NULL CHECK (total_minor >= 0),
    paid_minor       INTEGER NOT NULL CHECK (paid_minor >= 0 AND paid_minor <= total_minor),
    note             TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX orders_by_created_at ON orders (created_at DESC);

-- No foreign key to listings: a co-op device sees orders for listings it does not hold locally.
CREATE TABLE order_lines (
    order_id         TEXT    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    listing_id       TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    unit             TEXT    NOT NULL,
    quantity_milli   INTEGER NOT NULL CHECK (quantity_milli > 0),
    unit_price_minor INTEGER NOT NULL,
    total_minor      INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
) STRICT;

-- Local changes waiting to be pushed, in the order they were made.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    mutation_id TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    args        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

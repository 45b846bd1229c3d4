-- Sync: devices push their outboxes and pull what changed.

ALTER TABLE orders ADD COLUMN shortfall_milli INTEGER NOT NULL DEFAULT 0 CHECK (shortfall_milli >= 0);

-- The sync identity a device pushes under, bound at its first push (or at pairing).
ALTER TABLE devices ADD COLUMN client_id TEXT;
CREATE INDEX devices_by_client ON devices (client_id);

-- Every pushed entry the server has taken, with its verdict, so a retried push gets the same
-- answer and nothing applies twice.
CREATE TABLE applied (
    client_id   TEXT    NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    mutation_id TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL,
    PRIMARY KEY (client_id, seq)
) STRICT;

-- Stock a device holds of a listing for offline sales. It is out of the listing's stock, so web
-- orders cannot take it; `version` lets the device pull changes to it.
CREATE TABLE quotas (
    listing_id     TEXT    NOT NULL REFERENCES listings (id),
    client_id      TEXT    NOT NULL,
    quantity_milli INTEGER NOT NULL CHECK (quantity_milli >= 0),
    version        INTEGER NOT NULL,
    PRIMARY KEY (listing_id, client_id)
) STRICT;
CREATE INDEX quotas_by_client ON quotas (client_id, version);
CREATE INDEX listings_by_version ON listings (coop_id, version);
CREATE INDEX orders_by_version ON orders (coop_id, version);

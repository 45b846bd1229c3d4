-- The live stream a buyer ordered from (its id and its title then), as the marketplace sends it,
-- for sales per stream on Earnings and the Dashboard.
ALTER TABLE orders ADD COLUMN stream_id TEXT;
ALTER TABLE orders ADD COLUMN stream_title TEXT CHECK ((stream_id IS NULL) = (stream_title IS NULL));

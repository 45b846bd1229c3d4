-- The live stream a buyer ordered from, for sales per stream. The title is the stream's as it was
-- when the order was placed, so the order reads the same after the farmer renames a stream.
-- Both or neither: an order from a stream names it.
ALTER TABLE orders ADD COLUMN stream_id TEXT REFERENCES streams (id);
ALTER TABLE orders ADD COLUMN stream_title TEXT CHECK ((stream_id IS NULL) = (stream_title IS NULL));

-- What this device is called in the co-op's device list, shown (and changed) in Settings.
-- Devices paired before this column existed show no name until they are renamed.
ALTER TABLE account ADD COLUMN device_name TEXT NOT NULL DEFAULT '';

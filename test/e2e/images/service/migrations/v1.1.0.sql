-- v1.1.0: an additive, non-destructive change; existing rows take the default.
ALTER TABLE items ADD COLUMN priority integer NOT NULL DEFAULT 0;

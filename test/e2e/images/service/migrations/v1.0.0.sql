-- v1.0.0: the first schema: the items the service stores, and the workers' heartbeats.
CREATE TABLE items (
    id bigserial PRIMARY KEY,
    version text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE worker_heartbeats (
    id bigserial PRIMARY KEY,
    worker text NOT NULL,
    version text NOT NULL,
    beat_at timestamptz NOT NULL DEFAULT now()
);

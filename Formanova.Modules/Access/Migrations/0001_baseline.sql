CREATE TABLE access_api_keys (
    id           TEXT PRIMARY KEY,
    lookup       TEXT NOT NULL,
    name         TEXT NOT NULL,
    salt         {{bytes}} NOT NULL,
    hash         {{bytes}} NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   {{timestamp}} NOT NULL,
    last_used_at {{timestamp}},
    expires_at   {{timestamp}},
    revoked_at   {{timestamp}}
);

CREATE INDEX ix_access_api_keys_lookup ON access_api_keys (lookup);

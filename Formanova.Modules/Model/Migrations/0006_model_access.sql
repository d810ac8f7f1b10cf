-- Recent traffic per version, written by each instance every Model:Preload:FlushSeconds and at shutdown, so a restarted
-- or new instance preloads what was in use (docs/model.md, "Preloading"). In the database rather than the data
-- directory: pods keep their data directory in an emptyDir, which a rollout replaces, and every instance can read
-- the fleet's traffic here. requests adds up the flushed deltas of all instances; hot_keys_json holds the cache keys of
-- the last flush that had any (a JSON array, most requested first, at most Model:Preload:HotKeysPerVersion).
CREATE TABLE model_access (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    requests BIGINT NOT NULL,
    last_access_at {{timestamp}} NOT NULL,
    hot_keys_json {{json}} NULL,
    updated_at {{timestamp}} NOT NULL,
    PRIMARY KEY (name, version)
);

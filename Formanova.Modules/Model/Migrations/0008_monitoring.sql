-- Model monitoring (docs/monitoring.md). A policy per model; the live windows each instance flushes (one row per
-- instance, version and window: a check adds them up); the checks' results as a time series.
CREATE TABLE model_monitoring_policies (
    name TEXT NOT NULL PRIMARY KEY,
    policy_json {{json}} NOT NULL,
    updated_at {{timestamp}} NOT NULL
);

CREATE TABLE model_monitoring_windows (
    id {{id}},
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    window_start {{timestamp}} NOT NULL,
    window_end {{timestamp}} NOT NULL,
    rows_count BIGINT NOT NULL,
    counts_json {{json}} NOT NULL
);

CREATE INDEX ix_model_monitoring_windows ON model_monitoring_windows (name, version, window_start);

CREATE TABLE model_monitoring_checks (
    id {{id}},
    name TEXT NOT NULL,
    version TEXT NULL,
    checked_at {{timestamp}} NOT NULL,
    status TEXT NOT NULL,
    check_json {{json}} NOT NULL
);

CREATE INDEX ix_model_monitoring_checks ON model_monitoring_checks (name, checked_at);

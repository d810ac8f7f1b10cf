-- Experiments (docs/experiments.md): one row each, its arms (pinned versions and current weights) and its settings as
-- JSON, since they are read and written whole. The partial unique index keeps at most one live (running or paused)
-- experiment per model, so two racing creates cannot both start one.
CREATE TABLE model_experiments (
    name TEXT NOT NULL PRIMARY KEY,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    settings_json {{json}} NOT NULL,
    arms_json {{json}} NOT NULL,
    winner TEXT NULL,
    reason TEXT NULL,
    created_at {{timestamp}} NOT NULL,
    updated_at {{timestamp}} NOT NULL,
    ended_at {{timestamp}} NULL
);

CREATE UNIQUE INDEX ux_model_experiments_live ON model_experiments (model) WHERE status IN ('running', 'paused');
CREATE INDEX ix_model_experiments_model ON model_experiments (model, created_at);

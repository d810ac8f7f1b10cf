CREATE TABLE data_datasets (
    id              {{id}},
    name            TEXT NOT NULL UNIQUE,
    description     TEXT,
    schema_version  INTEGER NOT NULL,
    require_label   {{bool}} NOT NULL,
    row_count       BIGINT NOT NULL,
    derived_from_id BIGINT,
    created_at      {{timestamp}} NOT NULL,
    updated_at      {{timestamp}} NOT NULL
);

CREATE TABLE data_schema_versions (
    dataset_id    BIGINT NOT NULL,
    version       INTEGER NOT NULL,
    require_label {{bool}} NOT NULL,
    columns       {{json}} NOT NULL,
    created_at    {{timestamp}} NOT NULL,
    PRIMARY KEY (dataset_id, version)
);

CREATE TABLE data_imports (
    dataset_id BIGINT NOT NULL,
    import_id  TEXT NOT NULL,
    report     {{json}} NOT NULL,
    created_at {{timestamp}} NOT NULL,
    PRIMARY KEY (dataset_id, import_id)
);

CREATE TABLE data_results (
    id            {{id}},
    job_id        TEXT NOT NULL,
    step          TEXT NOT NULL,
    workflow_id   TEXT,
    model_name    TEXT,
    model_version TEXT,
    status        TEXT NOT NULL,
    input         {{json}},
    output        {{json}},
    error         TEXT,
    started_at    {{timestamp}} NOT NULL,
    completed_at  {{timestamp}},
    duration_ms   {{float}},
    recorded_at   {{timestamp}} NOT NULL,
    UNIQUE (job_id, step)
);

CREATE INDEX ix_data_results_model ON data_results (model_name, started_at);
CREATE INDEX ix_data_results_started ON data_results (started_at);

-- The Data module's schema (docs/data.md, Storage); see the .postgres.sql twin for why the two differ.

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

-- Values live in one positional binary payload per row (see RowCodec): one table serves every schema, column
-- names never reach SQL, and both providers read it back without parsing text.
CREATE TABLE data_rows (
    id             {{id}},
    dataset_id     BIGINT NOT NULL,
    import_id      TEXT NOT NULL,
    row_number     BIGINT NOT NULL,
    schema_version INTEGER NOT NULL,
    entity_hash    BIGINT,
    created_at     {{timestamp}} NOT NULL,
    payload        {{bytes}} NOT NULL,
    attempt_id     BIGINT
);

CREATE INDEX ix_data_rows_dataset ON data_rows (dataset_id, id);
-- A 64-bit hash of the id-role value, not the text: a narrower index, and the reader confirms the match.
CREATE INDEX ix_data_rows_entity ON data_rows (dataset_id, entity_hash) WHERE entity_hash IS NOT NULL;

-- An import writes its rows in short transactions, so that other writers (events, datasets) take SQLite's single
-- write lock between them instead of waiting out the whole import. Each row carries the attempt that wrote it
-- (data_rows.attempt_id), and while the attempt is listed in data_import_attempts every read skips its rows: the
-- attempt's last transaction records the import and deletes its entry, which shows all its rows at once. An attempt
-- that fails, or whose process died (no heartbeat), has its rows deleted in chunks and then its entry.
CREATE TABLE data_import_attempts (
    id           {{id}},
    dataset_id   BIGINT NOT NULL,
    import_id    TEXT NOT NULL,
    -- 'writing' while its owner adds rows; 'discarding' once its rows are being deleted.
    state        TEXT NOT NULL,
    -- The dataset's highest row id when the attempt began: its own rows all come after it.
    floor_row_id BIGINT NOT NULL,
    started_at   {{timestamp}} NOT NULL,
    heartbeat_at {{timestamp}} NOT NULL
);

-- A deleted dataset whose rows are still being removed, in chunks, after its definition went in one transaction.
CREATE TABLE data_row_purges (
    dataset_id   BIGINT PRIMARY KEY,
    requested_at {{timestamp}} NOT NULL
);

-- One row per stored chunk of a batch job, its predictions packed by PredictionCodec. A row per prediction cost
-- PostgreSQL a key-index entry and a copy of the job id for every prediction, about a third of a batch job's time,
-- and a chunk is always written and replaced whole.
CREATE TABLE data_prediction_chunks (
    job_id  TEXT NOT NULL,
    chunk   INTEGER NOT NULL,
    rows    INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (job_id, chunk)
);

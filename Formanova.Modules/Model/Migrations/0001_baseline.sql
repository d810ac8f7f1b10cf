CREATE TABLE model_versions (
    id {{id}},
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    task TEXT NOT NULL,
    trainer TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at {{timestamp}} NOT NULL,
    activated_at {{timestamp}} NULL,
    run_id TEXT NULL,
    dataset_id TEXT NULL,
    dataset_version TEXT NULL,
    schema_json {{json}} NOT NULL,
    metrics_json {{json}} NOT NULL,
    tags_json {{json}} NOT NULL,
    notes TEXT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    artifact_store TEXT NOT NULL,
    failure_reason TEXT NULL,
    cache_generation BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT ux_model_versions_name_version UNIQUE (name, version)
);

-- At most one active version per model, enforced by the database rather than by the code that switches.
CREATE UNIQUE INDEX ux_model_versions_active ON model_versions (name) WHERE status = 'active';

CREATE TABLE model_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version TEXT NOT NULL,
    updated_at {{timestamp}} NOT NULL,
    PRIMARY KEY (name, alias)
);

-- The database artifact store: every file of a version, so any instance can materialise it without a shared volume.
CREATE TABLE model_artifacts (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content {{bytes}} NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (name, version, file_name)
);

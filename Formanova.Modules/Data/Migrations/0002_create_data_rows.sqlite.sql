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
    payload        {{bytes}} NOT NULL
);

CREATE INDEX ix_data_rows_dataset ON data_rows (dataset_id, id);
-- A 64-bit hash of the id-role value, not the text: a narrower index, and the reader confirms the match.
CREATE INDEX ix_data_rows_entity ON data_rows (dataset_id, entity_hash) WHERE entity_hash IS NOT NULL;

-- An import writes its rows in short transactions, so that other writers (events, datasets) take SQLite's single
-- write lock between them instead of waiting out the whole import. Each row carries the attempt that wrote it,
-- and while the attempt is listed in data_import_attempts every read skips its rows: the attempt's last
-- transaction records the import and deletes its entry, which shows all its rows at once. An attempt that fails,
-- or whose process died (no heartbeat), has its rows deleted in chunks and then its entry. Rows written before
-- this migration have no attempt and are visible.
ALTER TABLE data_rows ADD COLUMN attempt_id BIGINT;

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

CREATE TABLE data_predictions (
    job_id TEXT NOT NULL,
    chunk  INTEGER NOT NULL,
    row_id BIGINT NOT NULL,
    label  TEXT,
    value  {{float}},
    score  {{float}},
    PRIMARY KEY (job_id, chunk, row_id)
);

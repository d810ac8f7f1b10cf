-- One row per stored chunk of a batch job, its predictions packed by PredictionCodec (see the PostgreSQL script).
-- data_predictions keeps the rows of chunks stored before this.
CREATE TABLE data_prediction_chunks (
    job_id  TEXT NOT NULL,
    chunk   INTEGER NOT NULL,
    rows    INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (job_id, chunk)
);

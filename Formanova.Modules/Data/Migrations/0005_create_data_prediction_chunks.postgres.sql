-- One row per stored chunk of a batch job, its predictions packed by PredictionCodec. A row per prediction cost
-- PostgreSQL a key-index entry and a copy of the job id for every prediction, about a third of a batch job's time,
-- and a chunk is always written and replaced whole. data_predictions keeps the rows of chunks stored before this.
CREATE TABLE data_prediction_chunks (
    job_id  TEXT NOT NULL,
    chunk   INTEGER NOT NULL,
    rows    INTEGER NOT NULL,
    payload BYTEA NOT NULL,
    PRIMARY KEY (job_id, chunk)
);

-- Packed doubles barely compress: store them out of line without trying.
ALTER TABLE data_prediction_chunks ALTER COLUMN payload SET STORAGE EXTERNAL;

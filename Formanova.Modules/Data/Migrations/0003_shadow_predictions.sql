-- A shadow arm's prediction names the served prediction it scored a copy of (docs/experiments.md): feedback on the
-- served prediction scores its shadow rows too. Null on every served row.
ALTER TABLE data_prediction_log ADD COLUMN served_prediction_id TEXT;

CREATE INDEX ix_data_prediction_log_served ON data_prediction_log (served_prediction_id);

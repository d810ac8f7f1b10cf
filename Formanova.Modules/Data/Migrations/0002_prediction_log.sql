-- The prediction log and its feedback (docs/feedback.md): one row per logged prediction, the true outcome and the
-- per-prediction losses on the same row once feedback arrives, so the outcome summary is one scan with no join. One
-- script for both providers: the {{tokens}} give each its types.
CREATE TABLE data_prediction_log (
    id             {{id}},
    prediction_id  TEXT NOT NULL,
    model_name     TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    task           TEXT NOT NULL,
    source         TEXT NOT NULL,
    predicted_at   {{timestamp}} NOT NULL,
    entity_id      TEXT,
    experiment     TEXT,
    arm            TEXT,
    error_kind     TEXT,
    label          TEXT,
    value          {{float}},
    score          {{float}},
    probabilities  {{json}},
    latency_ms     {{float}},
    cached         {{bool}} NOT NULL,
    fallback_from  TEXT,
    outcome_label  TEXT,
    outcome_value  {{float}},
    feedback_at    {{timestamp}},
    correct        {{float}},
    log_loss       {{float}},
    abs_error      {{float}}
);

CREATE UNIQUE INDEX ux_data_prediction_log_id ON data_prediction_log (prediction_id);
CREATE INDEX ix_data_prediction_log_model ON data_prediction_log (model_name, predicted_at);
CREATE INDEX ix_data_prediction_log_entity ON data_prediction_log (model_name, entity_id, predicted_at);
CREATE INDEX ix_data_prediction_log_time ON data_prediction_log (predicted_at);

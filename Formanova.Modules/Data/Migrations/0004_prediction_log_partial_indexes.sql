-- Most logged predictions carry no entity key and every served one has no served_prediction_id, yet both indexes took
-- an entry for each row: two of the six b-tree inserts every logged prediction cost (docs/benchmarks.md, "The shipped
-- host"). Each index now holds only the rows its lookups can match: `entity_id = @EntityId` and
-- `served_prediction_id = @Id` imply the column is not null, so both providers still use them.
DROP INDEX ix_data_prediction_log_entity;
CREATE INDEX ix_data_prediction_log_entity ON data_prediction_log (model_name, entity_id, predicted_at)
    WHERE entity_id IS NOT NULL;

DROP INDEX ix_data_prediction_log_served;
CREATE INDEX ix_data_prediction_log_served ON data_prediction_log (served_prediction_id)
    WHERE served_prediction_id IS NOT NULL;

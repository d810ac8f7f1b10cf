-- The training report of a version the service trained (docs/model.md, "The training report"). Read by the
-- single-version query only, so listing versions never carries it.
ALTER TABLE model_versions ADD COLUMN training_report_json {{json}} NULL;

-- An ensemble version's combiner and pinned members (JSON EnsembleInfo, docs/model.md "Ensembles"); null for every
-- other version. The same manifest is in its artifact, ensemble.zip, which is what serving reads.
ALTER TABLE model_versions ADD COLUMN ensemble_json {{json}} NULL;

-- A version's input contract: the raw columns of its training dataset, the per-row steps frozen at training time and
-- the date features made. Null for versions registered before contracts and for uploaded models, which take their
-- feature columns as they are.
ALTER TABLE model_versions ADD COLUMN input_contract_json {{json}} NULL;

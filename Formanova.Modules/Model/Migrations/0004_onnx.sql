-- The framework of a version's artifact ('mlnet': model.zip; 'onnx': model.onnx), the ONNX opset of the default
-- domain, and the signature mapping the graph's tensors to the columns and to a prediction (docs/model.md). Both are
-- null for ML.NET versions.
ALTER TABLE model_versions ADD COLUMN framework TEXT NOT NULL DEFAULT 'mlnet';
ALTER TABLE model_versions ADD COLUMN opset INTEGER NULL;
ALTER TABLE model_versions ADD COLUMN signature_json {{json}} NULL;

-- Batch jobs recorded before 0003 kept each chunk's predictions as a JSON array in the chunk's result record
-- (step chunk-NNNNNN). Copy them into data_predictions, which the export reads, so those jobs keep their results.
INSERT INTO data_predictions (job_id, chunk, row_id, label, value, score)
SELECT r.job_id,
       CAST(substring(r.step FROM 7) AS INTEGER),
       CAST(p ->> 'rowId' AS BIGINT),
       p ->> 'label',
       CAST(p ->> 'value' AS DOUBLE PRECISION),
       CAST(p ->> 'score' AS DOUBLE PRECISION)
FROM data_results r
CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(CAST(r.output AS jsonb)) = 'array' THEN CAST(r.output AS jsonb) ELSE '[]'::jsonb END) AS p
WHERE r.step LIKE 'chunk-%' AND r.status = 'Succeeded' AND r.output IS NOT NULL
ON CONFLICT DO NOTHING;

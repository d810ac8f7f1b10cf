-- Batch jobs recorded before 0003 kept each chunk's predictions as a JSON array in the chunk's result record
-- (step chunk-NNNNNN). Copy them into data_predictions, which the export reads, so those jobs keep their results.
INSERT OR IGNORE INTO data_predictions (job_id, chunk, row_id, label, value, score)
SELECT r.job_id,
       CAST(substr(r.step, 7) AS INTEGER),
       json_extract(p.value, '$.rowId'),
       json_extract(p.value, '$.label'),
       json_extract(p.value, '$.value'),
       json_extract(p.value, '$.score')
FROM data_results r, json_each(CASE WHEN json_type(r.output) = 'array' THEN r.output ELSE '[]' END) AS p
WHERE r.step LIKE 'chunk-%' AND r.status = 'Succeeded' AND r.output IS NOT NULL;

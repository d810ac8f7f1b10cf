-- The CloudEvents dataref extension: where an event whose data was too large to log is read in full; its data
-- then holds a summary (see EventRules.Summarize).
ALTER TABLE event_log ADD COLUMN dataref TEXT NULL;

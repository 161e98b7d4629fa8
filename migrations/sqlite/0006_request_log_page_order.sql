-- PostgreSQL's 0006 makes every request-log index end with `request_log_id`. SQLite's already
-- do: request_log_id is the rowid, which every SQLite index holds as its last column. Nothing
-- to change here; the file keeps both backends' migrations in step.
select 1;

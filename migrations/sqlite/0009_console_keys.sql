-- The try-it console's keys (release 2): one per signed-in session, made on its first call from
-- the docs, never shown, revoked when the session ends. session_key_hash is the session's row
-- in `session` (SHA-256 of its id); null for every key a developer creates.
alter table api_key add column session_key_hash text;
create index api_key_console on api_key (session_key_hash) where session_key_hash is not null;

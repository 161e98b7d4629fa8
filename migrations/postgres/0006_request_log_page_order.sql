-- Every request-log index ends with the whole order pages are read in (`at`, then
-- `request_log_id`), so a page is one backward walk of an index that stops after the page,
-- whatever the planner's statistics say about how many rows a key or an account has.
-- On a large log this rebuilds six indexes once (writes to request_log wait meanwhile).
drop index request_log_at;
create index request_log_at on request_log (at, request_log_id);
drop index request_log_account;
create index request_log_account on request_log (account_id, at, request_log_id);
drop index request_log_key;
create index request_log_key on request_log (api_key_id, at, request_log_id);
drop index request_log_account_code;
create index request_log_account_code on request_log (account_id, code, at, request_log_id);
drop index request_log_code;
create index request_log_code on request_log (code, at, request_log_id);
drop index request_log_ip;
create index request_log_ip on request_log (ip, at, request_log_id);

-- API keys, plans, the request log and its per-minute rollup.

-- The plan's name from the installation's settings; null means the default plan.
alter table account add column plan text;

-- A key is stored only as HMAC-SHA256 under the server secret; the list shows prefix…last4.
-- revoked_at may lie in the future: a rolled key stays valid until the end of its grace period.
create table api_key (
    api_key_id blob primary key,
    account_id blob not null references account (account_id) on delete cascade,
    key_hash text not null unique,
    display_prefix text not null,
    last4 text not null,
    label text not null,
    key_type text not null,
    expires_at text,
    revoked_at text,
    revoked_reason text,
    replaces blob,
    created_at text not null,
    last_used_at text
);
create index api_key_account on api_key (account_id, created_at);

-- One row per API request, accepted or refused. Never the key. No foreign keys: rows are written
-- in batches by the log writer and outlive keys (deleting an account anonymises them).
create table request_log (
    request_log_id integer primary key,
    at text not null,
    method text not null,
    route text not null,
    status integer not null,
    outcome text not null,
    code text,
    account_id blob,
    api_key_id blob,
    key_label text,
    key_type text,
    ip text,
    user_agent text,
    latency_us integer not null
);
create index request_log_at on request_log (at);
create index request_log_account on request_log (account_id, at);
create index request_log_key on request_log (api_key_id, at);

-- Requests per minute, key, route, outcome and refusal code: what charts and quotas read.
-- Requests that name no known key are counted under the nil UUID, and code '' means none,
-- so the primary key has no nulls and the writer can upsert. The key starts with the account
-- and the time: a chart reads one account's rows of one window, and they lie together.
create table usage_minute (
    account_id blob not null,
    minute text not null,
    api_key_id blob not null,
    route text not null,
    outcome text not null,
    code text not null,
    requests integer not null,
    latency_us_total integer not null,
    primary key (account_id, minute, api_key_id, route, outcome, code)
) without rowid;
create index usage_minute_key on usage_minute (api_key_id, minute);

-- Deprecated operations (release 2): marked `deprecated` in their product's document, or given
-- a sunset date in the settings. first_seen_at is when this installation first published one
-- as deprecated: the date its `Deprecation` header gives, the same on every instance and start.
create table deprecated_operation (
    product text not null,
    method text not null,
    path text not null,
    first_seen_at timestamptz not null,
    primary key (product, method, path)
);

-- Who still calls them: one row per account and operation, counted by the request-log writer
-- after each batch. notified_at is set once, by the instance that mails the account about it.
create table deprecated_call (
    account_id uuid not null references account (account_id) on delete cascade,
    product text not null,
    method text not null,
    path text not null,
    calls bigint not null,
    first_call_at timestamptz not null,
    last_call_at timestamptz not null,
    notified_at timestamptz,
    primary key (account_id, product, method, path)
);
create index deprecated_call_operation on deprecated_call (product, method, path, last_call_at);
create index deprecated_call_unnotified on deprecated_call (notified_at);

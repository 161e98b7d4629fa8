-- Accounts, email tokens, consent, sessions, security events, sign-in throttling.

create table account (
    account_id blob primary key,
    email text not null,
    email_normalized text not null unique,
    display_name text not null,
    organisation text,
    country text,
    password_hash text,
    email_verified_at text,
    status text not null default 'active',
    role text not null default 'developer',
    last_sign_in_at text,
    created_at text not null,
    updated_at text not null
);

create table email_token (
    email_token_id blob primary key,
    account_id blob not null references account (account_id) on delete cascade,
    purpose text not null,
    token_hash text not null unique,
    expires_at text not null,
    used_at text,
    created_at text not null
);
create index email_token_account on email_token (account_id, purpose);

create table consent (
    consent_id blob primary key,
    account_id blob not null references account (account_id) on delete cascade,
    document text not null,
    version text not null,
    text_sha256 text not null,
    ip text,
    user_agent text,
    accepted_at text not null
);
create index consent_account on consent (account_id, accepted_at);

create table session (
    session_key_hash text primary key,
    account_id blob references account (account_id) on delete cascade,
    data text not null,
    ip text,
    user_agent text,
    expires_at text not null,
    created_at text not null,
    updated_at text not null
);
create index session_account on session (account_id);
create index session_expires on session (expires_at);

create table event (
    event_id blob primary key,
    kind text not null,
    account_id blob references account (account_id) on delete set null,
    actor_account_id blob references account (account_id) on delete set null,
    ip text,
    user_agent text,
    detail text not null default '{}',
    created_at text not null
);
create index event_account on event (account_id, created_at);
create index event_kind on event (kind, created_at);

create table throttle (
    throttle_key text primary key,
    failures integer not null,
    window_started_at text not null,
    last_failure_at text not null,
    blocked_until text
);

-- Passkeys: one row per credential. Mast keeps only the public credential (webauthn-rs Passkey,
-- serialised), never a private key.

create table passkey (
    passkey_id blob primary key,
    account_id blob not null references account (account_id) on delete cascade,
    credential_id text not null unique,
    credential text not null,
    name text not null,
    backed_up integer not null default 0,
    created_at text not null,
    last_used_at text
);
create index passkey_account on passkey (account_id, created_at);

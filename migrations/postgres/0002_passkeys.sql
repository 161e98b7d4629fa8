-- Passkeys: one row per credential. Mast keeps only the public credential (webauthn-rs Passkey,
-- serialised), never a private key.

create table passkey (
    passkey_id uuid primary key,
    account_id uuid not null references account (account_id) on delete cascade,
    credential_id text not null unique,
    credential text not null,
    name text not null,
    backed_up boolean not null default false,
    created_at timestamptz not null,
    last_used_at timestamptz
);
create index passkey_account on passkey (account_id, created_at);

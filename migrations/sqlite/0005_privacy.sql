-- Privacy in practice: the address an email-change link confirms, contact messages and replies.

alter table email_token add column new_email text;

-- A message from the public contact form. account_id is set when the sender was signed in.
create table contact_message (
    contact_message_id blob primary key,
    account_id blob references account (account_id) on delete cascade,
    name text not null,
    email text not null,
    email_normalized text not null,
    subject text not null,
    message text not null,
    ip text,
    user_agent text,
    created_at text not null,
    closed_at text,
    closed_by blob references account (account_id) on delete set null
);
create index contact_message_inbox on contact_message (closed_at, created_at);
create index contact_message_account on contact_message (account_id);
create index contact_message_email on contact_message (email_normalized);

-- An admin's answer, sent by email to the sender and kept with the message.
create table contact_reply (
    contact_reply_id blob primary key,
    contact_message_id blob not null references contact_message (contact_message_id) on delete cascade,
    admin_account_id blob references account (account_id) on delete set null,
    body text not null,
    sent_at text not null
);
create index contact_reply_message on contact_reply (contact_message_id, sent_at);

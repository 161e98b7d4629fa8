-- Charts over days read hourly and daily rollups, written by the log writer beside the per-minute one.
-- The admin request-log filters get the indexes their common questions need.

create table usage_hour (
    account_id blob not null,
    hour text not null,
    api_key_id blob not null,
    route text not null,
    outcome text not null,
    code text not null,
    requests integer not null,
    latency_us_total integer not null,
    primary key (account_id, hour, api_key_id, route, outcome, code)
) without rowid;
create index usage_hour_key on usage_hour (api_key_id, hour);

insert into usage_hour (account_id, hour, api_key_id, route, outcome, code, requests, latency_us_total)
select account_id, substr(minute, 1, 13) || ':00:00.000000Z', api_key_id, route, outcome, code, sum(requests), sum(latency_us_total)
from usage_minute
group by account_id, substr(minute, 1, 13) || ':00:00.000000Z', api_key_id, route, outcome, code;

create table usage_day (
    account_id blob not null,
    day text not null,
    api_key_id blob not null,
    route text not null,
    outcome text not null,
    code text not null,
    requests integer not null,
    latency_us_total integer not null,
    primary key (account_id, day, api_key_id, route, outcome, code)
) without rowid;
create index usage_day_key on usage_day (api_key_id, day);

insert into usage_day (account_id, day, api_key_id, route, outcome, code, requests, latency_us_total)
select account_id, substr(hour, 1, 10) || 'T00:00:00.000000Z', api_key_id, route, outcome, code, sum(requests), sum(latency_us_total)
from usage_hour
group by account_id, substr(hour, 1, 10) || 'T00:00:00.000000Z', api_key_id, route, outcome, code;

-- "This account's refusals with this code", "everything from this IP".
create index request_log_account_code on request_log (account_id, code, at);
create index request_log_code on request_log (code, at);
create index request_log_ip on request_log (ip, at);

-- Admin search and sorting of accounts.
create index account_created on account (created_at);
create index event_created on event (created_at);

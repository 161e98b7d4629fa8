-- Charts over days read an hourly rollup, written by the log writer beside the per-minute one.
-- The admin request-log filters get the indexes their common questions need.

create table usage_hour (
    hour text not null,
    account_id blob not null,
    api_key_id blob not null,
    route text not null,
    outcome text not null,
    code text not null,
    requests integer not null,
    latency_us_total integer not null,
    primary key (hour, api_key_id, route, outcome, code)
);
create index usage_hour_account on usage_hour (account_id, hour);
create index usage_hour_key on usage_hour (api_key_id, hour);

insert into usage_hour (hour, account_id, api_key_id, route, outcome, code, requests, latency_us_total)
select substr(minute, 1, 13) || ':00:00.000000Z', account_id, api_key_id, route, outcome, code,
       sum(requests), sum(latency_us_total)
from usage_minute
group by substr(minute, 1, 13), account_id, api_key_id, route, outcome, code;

-- "This account's refusals with this code", "everything from this IP".
create index request_log_account_code on request_log (account_id, code, at);
create index request_log_code on request_log (code, at);
create index request_log_ip on request_log (ip, at);

-- Admin search and sorting of accounts.
create index account_created on account (created_at);
create index event_created on event (created_at);

-- What a key may do (release 2): the products it may call, read only or read and write, and
-- the client networks it may come from. Existing keys keep every right they had.
-- scope_products: slugs separated by spaces; null means every product, also ones added later.
alter table api_key add column scope_products text;
-- 'read' (GET, HEAD, OPTIONS) or 'read_write'.
alter table api_key add column scope_access text not null default 'read_write';
-- CIDR ranges separated by spaces; null means any address.
alter table api_key add column scope_networks text;

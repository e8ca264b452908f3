-- An order and the job that charges it, in one transaction: the job exists
-- if and only if the order does. Run against the database that
-- `errand serve --store postgresql://…` uses:
--
--   psql postgresql://shop@db/shop -v customer=alice -v total=4200 -f place_order.sql
--
-- errand.enqueue(queue, payload, options) returns the job's id. Workers
-- waiting on the queue (on any errand server) are woken when, and only
-- if, the transaction commits; a rollback leaves no job behind.
\set ON_ERROR_STOP on

CREATE TABLE IF NOT EXISTS orders (
  id bigserial PRIMARY KEY,
  customer text NOT NULL,
  total_cents integer NOT NULL,
  charge_job uuid
);

BEGIN;
INSERT INTO orders (customer, total_cents) VALUES (:'customer', :total)
  RETURNING id AS order_id \gset
SELECT errand.enqueue(
    'charges',
    jsonb_build_object('order', :order_id, 'amount_cents', :total),
    jsonb_build_object('idempotency_key', 'charge-' || :order_id, 'max_attempts', 10))
  AS charge_job \gset
UPDATE orders SET charge_job = :'charge_job' WHERE id = :order_id;
COMMIT;

SELECT :order_id AS order_id, :'charge_job' AS charge_job;

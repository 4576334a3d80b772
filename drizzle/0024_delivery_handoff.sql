-- Hand-off at ingest: the process that stores fresh deliveries may hand them straight to its own worker, so the
-- common path needs no claim (one row version fewer per delivery, and no claim statement). The ingest transaction
-- says so in transaction-local settings (patchbay.handoff_*: the worker, the lease end, its clock, how many more
-- it takes); this trigger then queues up to that many deliveries that are due now already leased to that worker,
-- attempt counted, exactly as a claim leaves them. Held targets (delivery_holds) and anything due later are queued
-- as before. A worker that dies before attempting them loses its lease and the reaper makes them due again.
CREATE OR REPLACE FUNCTION patchbay_enqueue_deliveries() RETURNS trigger AS $$
DECLARE
  worker text := current_setting('patchbay.handoff_worker', true);
  hnow timestamptz;
  hleft int;
  handed int;
BEGIN
  IF worker IS NULL OR worker = '' THEN
    INSERT INTO delivery_queue (id, target_id, next_attempt_at, attempts)
    SELECT n.id, n.target_id, GREATEST(COALESCE(n.next_attempt_at, now()), COALESCE(h.until, '-infinity')), n.attempts
    FROM new_deliveries n LEFT JOIN delivery_holds h ON h.target_id = n.target_id
    WHERE n.status IN ('pending', 'retrying');
    RETURN NULL;
  END IF;
  hnow := current_setting('patchbay.handoff_now')::timestamptz;
  hleft := current_setting('patchbay.handoff_left')::int;
  WITH n AS (
    SELECT n.id, n.target_id, n.attempts,
           GREATEST(COALESCE(n.next_attempt_at, now()), COALESCE(h.until, '-infinity')) AS due
    FROM new_deliveries n LEFT JOIN delivery_holds h ON h.target_id = n.target_id
    WHERE n.status IN ('pending', 'retrying')
  ), r AS (
    SELECT n.*, n.due <= hnow AND row_number() OVER (ORDER BY n.due > hnow, n.due, n.id) <= hleft AS take FROM n
  ), ins AS (
    INSERT INTO delivery_queue (id, target_id, next_attempt_at, attempts, lease_until, leased_by)
    SELECT r.id, r.target_id, r.due, r.attempts + CASE WHEN r.take THEN 1 ELSE 0 END,
           CASE WHEN r.take THEN current_setting('patchbay.handoff_until')::timestamptz END,
           CASE WHEN r.take THEN worker END
    FROM r
    RETURNING leased_by
  )
  SELECT count(*) FILTER (WHERE leased_by IS NOT NULL) INTO handed FROM ins;
  -- Several fan-outs insert in one transaction: each takes from what is left.
  PERFORM set_config('patchbay.handoff_left', (hleft - handed)::text, true);
  RETURN NULL;
END $$ LANGUAGE plpgsql;

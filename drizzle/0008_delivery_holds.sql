CREATE TABLE "delivery_holds" (
	"target_id" uuid PRIMARY KEY NOT NULL,
	"until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- A delivery for a target whose circuit is open is queued held back, as the worker would hold it.
CREATE OR REPLACE FUNCTION patchbay_enqueue_deliveries() RETURNS trigger AS $$
BEGIN
  INSERT INTO delivery_queue (id, target_id, next_attempt_at, attempts)
  SELECT n.id, n.target_id, GREATEST(COALESCE(n.next_attempt_at, now()), COALESCE(h.until, '-infinity')), n.attempts
  FROM new_deliveries n LEFT JOIN delivery_holds h ON h.target_id = n.target_id
  WHERE n.status IN ('pending', 'retrying');
  RETURN NULL;
END $$ LANGUAGE plpgsql;

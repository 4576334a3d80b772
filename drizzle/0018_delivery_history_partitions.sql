-- Delivery history partitioned by day (issue 13), hand-written: drizzle does not model partitioning.
-- Partitions are ranges of `id`: ids are UUIDv7, whose first 48 bits are the creation time in milliseconds, so a
-- UTC day is one contiguous id range. The primary key stays `id` alone (it contains the partition key), a lookup
-- by id touches one partition, and the queue's foreign key keeps pointing at `id`. Retention detaches and drops
-- whole days (src/delivery/retention.ts); a scheduled job creates the coming days' partitions ahead
-- (src/delivery/partitions.ts); `deliveries_default` catches any id outside them (ids made before UUIDv7, or a
-- day the job did not create in time), and retention deletes rows there one by one as before.

-- The smallest UUID of the millisecond `ts` falls in: the lower bound of that millisecond's ids.
CREATE OR REPLACE FUNCTION patchbay_uuid_v7_floor(ts timestamptz) RETURNS uuid AS $$
  SELECT (lpad(to_hex(floor(extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid
$$ LANGUAGE sql IMMUTABLE;--> statement-breakpoint

-- Creates the daily partitions of `first_day` … `last_day` (UTC) that do not exist yet; returns how many it made.
-- A day some of whose ids already sit in the default partition is left there (moving rows out of it would cascade
-- to their queue rows); retention deletes them row by row.
CREATE OR REPLACE FUNCTION patchbay_ensure_delivery_partitions(first_day date, last_day date) RETURNS integer AS $$
DECLARE
  d date;
  made integer := 0;
  lo uuid;
  hi uuid;
  part text;
BEGIN
  -- One maker at a time (two Patchbay processes, or the job beside a migration).
  PERFORM pg_advisory_xact_lock(7206311022);
  FOR d IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
    part := 'deliveries_p' || to_char(d, 'YYYYMMDD');
    CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
    lo := patchbay_uuid_v7_floor(d::timestamp AT TIME ZONE 'UTC');
    hi := patchbay_uuid_v7_floor((d + 1)::timestamp AT TIME ZONE 'UTC');
    CONTINUE WHEN EXISTS (SELECT 1 FROM deliveries_default WHERE id >= lo AND id < hi);
    -- Room on each page for the one update per attempt to stay on the page (a HOT update: no index writes).
    EXECUTE format('CREATE TABLE %I PARTITION OF deliveries FOR VALUES FROM (%L) TO (%L) WITH (fillfactor = 80)',
                   part, lo, hi);
    made := made + 1;
  END LOOP;
  RETURN made;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- Indexes for days that have ended: by status, for the list's status filters, the dead-letter view and a
-- webhook's delivery stats. The partitions of days still being written carry none: an attempt's outcome changes
-- `status` and `delivered_at`, and an index on either would turn its one update per attempt from a HOT update
-- (no index writes) into one that writes every index. A day that ended is written rarely (late retries).
CREATE OR REPLACE FUNCTION patchbay_seal_delivery_partitions(before_day date) RETURNS integer AS $$
DECLARE
  p record;
  made integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7206311022);
  FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'deliveries'::regclass AND c.relname ~ '^deliveries_p[0-9]{8}$'
             AND to_date(substr(c.relname, 13), 'YYYYMMDD') < before_day
             AND to_regclass(quote_ident(c.relname || '_target_status_idx')) IS NULL
           ORDER BY c.relname LOOP
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (org_id, status, created_at, id)',
                   p.relname || '_status_idx', p.relname);
    EXECUTE format('CREATE INDEX %I ON %I (target_id, status, created_at, id) INCLUDE (org_id, delivered_at)',
                   p.relname || '_target_status_idx', p.relname);
    made := made + 1;
  END LOOP;
  RETURN made;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

ALTER TABLE "delivery_queue" DROP CONSTRAINT "delivery_queue_id_deliveries_id_fk";--> statement-breakpoint
DROP TRIGGER deliveries_enqueue ON deliveries;--> statement-breakpoint
ALTER TABLE "deliveries" RENAME TO "deliveries_unpartitioned";--> statement-breakpoint
ALTER TABLE "deliveries_unpartitioned" RENAME CONSTRAINT "deliveries_pkey" TO "deliveries_unpartitioned_pkey";--> statement-breakpoint
DROP INDEX "deliveries_target_idx";--> statement-breakpoint
DROP INDEX "deliveries_org_idx";--> statement-breakpoint
DROP INDEX "deliveries_event_idx";--> statement-breakpoint
-- Same columns in the same order, NOT NULLs and defaults.
CREATE TABLE "deliveries" (LIKE "deliveries_unpartitioned" INCLUDING DEFAULTS) PARTITION BY RANGE ("id");--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_pkey" PRIMARY KEY ("id");--> statement-breakpoint
CREATE INDEX "deliveries_target_idx" ON "deliveries" USING btree ("target_id","created_at");--> statement-breakpoint
-- With `id`, the list's order (created_at DESC, id DESC) comes straight from the index.
CREATE INDEX "deliveries_org_idx" ON "deliveries" USING btree ("org_id","created_at","id");--> statement-breakpoint
CREATE INDEX "deliveries_event_idx" ON "deliveries" USING btree ("org_id","event_id");--> statement-breakpoint
CREATE TABLE "deliveries_default" PARTITION OF "deliveries" DEFAULT WITH (fillfactor = 80);--> statement-breakpoint
-- A partition for every day the existing UUIDv7 ids were made on, and for yesterday to a week ahead.
SELECT patchbay_ensure_delivery_partitions(day, day) FROM (
  SELECT DISTINCT (to_timestamp(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0)
                   AT TIME ZONE 'UTC')::date AS day
  FROM "deliveries_unpartitioned" WHERE substr(id::text, 15, 1) = '7'
) d
WHERE day BETWEEN DATE '2020-01-01' AND (now() AT TIME ZONE 'UTC')::date + 7
ORDER BY day;--> statement-breakpoint
SELECT patchbay_ensure_delivery_partitions((now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 7);--> statement-breakpoint
INSERT INTO "deliveries" SELECT * FROM "deliveries_unpartitioned";--> statement-breakpoint
SELECT patchbay_seal_delivery_partitions((now() AT TIME ZONE 'UTC')::date - 1);--> statement-breakpoint
DROP TABLE "deliveries_unpartitioned";--> statement-breakpoint
ALTER TABLE "delivery_queue" ADD CONSTRAINT "delivery_queue_id_deliveries_id_fk" FOREIGN KEY ("id") REFERENCES "public"."deliveries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- Every way a delivery is made inserts into "deliveries"; the statement trigger queues the pending ones.
CREATE TRIGGER deliveries_enqueue AFTER INSERT ON deliveries
  REFERENCING NEW TABLE AS new_deliveries FOR EACH STATEMENT EXECUTE FUNCTION patchbay_enqueue_deliveries();

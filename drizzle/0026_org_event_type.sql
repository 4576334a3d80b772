-- The deliveries list's event-type filter in the list's order (issue 13): a first page and its capped total read
-- this index instead of five of an organization's history rows per match (at 10 million rows the count read
-- about 50,000 heap rows, 20-30 ms). Created on every partition (and on those made later); `event_type` never
-- changes, so an attempt's update stays HOT.
CREATE INDEX "deliveries_org_type_idx" ON "deliveries" USING btree ("org_id","event_type","id");--> statement-breakpoint
-- Custom SQL below (drizzle does not model partitions, statistics or functions).
-- A target belongs to one organization, but the planner multiplies their selectivities: a webhook's list with a
-- rare status (`failed`) on the days that have no status index was estimated at a tenth of its matches, so
-- instead of reading the webhook's (target_id, id) index newest first until the page was full (about 1,000 rows,
-- 1.5 ms) it read and sorted every row of the webhook in those days (about 10,000, 15 ms). Statistics of the
-- dependency, per partition (the planner reads a partition's own), fix the estimate.
CREATE OR REPLACE FUNCTION patchbay_delivery_partition_statistics(part text) RETURNS void AS $$
BEGIN
  EXECUTE format('CREATE STATISTICS IF NOT EXISTS %I (dependencies) ON org_id, target_id FROM %I',
                 part || '_org_target_stx', part);
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- As in 0021, and each new day's partition gets the statistics above (autovacuum's analyze fills them as the day
-- is written).
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
    PERFORM patchbay_delivery_partition_statistics(part);
    IF d < (SELECT t.day FROM delivery_counted_through t) THEN
      PERFORM patchbay_count_delivery_partition(part);
    END IF;
    made := made + 1;
  END LOOP;
  RETURN made;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- As in 0021, except that `before_day` itself is counted too (it has ended; only its status indexes wait a day,
-- as retries still update its rows and an index on `status` would make each of those updates write every index).
-- Counting a day installs row triggers on its partition, and after a day ends they fire only when a delivery made
-- that day changes status (once per delivery still retrying past midnight, at most): so the counts cover all but
-- today, and a webhook's stats and a status total read today's rows only (before: yesterday's too, twice the
-- rows, 10-20 ms at 10 million deliveries).
CREATE OR REPLACE FUNCTION patchbay_seal_delivery_partitions(before_day date) RETURNS integer AS $$
DECLARE
  p record;
  made integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7206311022);
  FOR p IN SELECT c.relname, to_date(substr(c.relname, 13), 'YYYYMMDD') AS d
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'deliveries'::regclass AND c.relname ~ '^deliveries_p[0-9]{8}$'
             AND to_date(substr(c.relname, 13), 'YYYYMMDD') <= before_day
           ORDER BY c.relname LOOP
    PERFORM patchbay_count_delivery_partition(p.relname);
    CONTINUE WHEN p.d >= before_day OR to_regclass(quote_ident(p.relname || '_target_status_idx')) IS NOT NULL;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (org_id, status, id)',
                   p.relname || '_status_idx', p.relname);
    EXECUTE format('CREATE INDEX %I ON %I (target_id, status, id)',
                   p.relname || '_target_status_idx', p.relname);
    made := made + 1;
  END LOOP;
  INSERT INTO delivery_counted_through (one, day) VALUES (true, before_day + 1)
  ON CONFLICT (one) DO UPDATE SET day = greatest(delivery_counted_through.day, EXCLUDED.day);
  RETURN made;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- The statistics on every partition there is, analyzed now on the days without status indexes (the ones the
-- estimate matters for: sealed days answer a status filter from their status indexes).
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'deliveries'::regclass LOOP
    PERFORM patchbay_delivery_partition_statistics(p.relname);
    IF to_regclass(quote_ident(p.relname || '_target_status_idx')) IS NULL THEN
      EXECUTE format('ANALYZE %I', p.relname);
    END IF;
  END LOOP;
END $$;--> statement-breakpoint
SELECT patchbay_seal_delivery_partitions((now() AT TIME ZONE 'UTC')::date - 1);

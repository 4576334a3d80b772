CREATE TABLE "delivery_counted_through" (
	"one" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"day" date NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery_day_counts" (
	"target_id" uuid NOT NULL,
	"org_id" uuid NOT NULL,
	"day" date NOT NULL,
	"status" "delivery_status" NOT NULL,
	"n" bigint NOT NULL,
	"last_delivered_at" timestamp with time zone,
	CONSTRAINT "delivery_day_counts_target_id_org_id_day_status_pk" PRIMARY KEY("target_id","org_id","day","status")
);
--> statement-breakpoint
DROP INDEX "deliveries_target_idx";--> statement-breakpoint
DROP INDEX "deliveries_org_idx";--> statement-breakpoint
CREATE INDEX "deliveries_target_idx" ON "deliveries" USING btree ("target_id","id");--> statement-breakpoint
CREATE INDEX "deliveries_org_idx" ON "deliveries" USING btree ("org_id","id");--> statement-breakpoint
-- Custom SQL below (drizzle does not model partitions, triggers or functions).
-- The UTC day a UUIDv7 id was made on (the day of the partition holding it).
CREATE OR REPLACE FUNCTION patchbay_uuid_v7_day(id uuid) RETURNS date AS $$
  SELECT (to_timestamp(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0)
          AT TIME ZONE 'UTC')::date
$$ LANGUAGE sql IMMUTABLE;--> statement-breakpoint

-- Keeps delivery_day_counts exact for a counted day (TG_ARGV[0]): installed only on the partitions of days that
-- ended, so an attempt on today's deliveries pays nothing; a late retry or a retention delete on an older day
-- moves its count.
CREATE OR REPLACE FUNCTION patchbay_count_delivery_day() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE delivery_day_counts
       SET n = n - 1, last_delivered_at = CASE WHEN n > 1 THEN last_delivered_at END
     WHERE target_id = OLD.target_id AND org_id = OLD.org_id AND day = TG_ARGV[0]::date AND status = OLD.status;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO delivery_day_counts AS c (target_id, org_id, day, status, n, last_delivered_at)
    VALUES (NEW.target_id, NEW.org_id, TG_ARGV[0]::date, NEW.status, 1, NEW.delivered_at)
    ON CONFLICT (target_id, org_id, day, status) DO UPDATE
      SET n = c.n + 1, last_delivered_at = greatest(c.last_delivered_at, EXCLUDED.last_delivered_at);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- Counts one day's partition into delivery_day_counts and installs the triggers that keep the count exact, unless
-- it is counted already. Writes to the day wait meanwhile (they are rare on a day that ended), so no change falls
-- between the count and the triggers.
CREATE OR REPLACE FUNCTION patchbay_count_delivery_partition(part text) RETURNS boolean AS $$
DECLARE
  d date := to_date(substr(part, 13), 'YYYYMMDD');
BEGIN
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part::regclass AND tgname = 'deliveries_day_counts_upd') THEN
    RETURN false;
  END IF;
  EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', part);
  DELETE FROM delivery_day_counts WHERE day = d;
  EXECUTE format('INSERT INTO delivery_day_counts (target_id, org_id, day, status, n, last_delivered_at)
                  SELECT target_id, org_id, %L, status, count(*), max(delivered_at) FROM %I
                  GROUP BY target_id, org_id, status', d, part);
  EXECUTE format('CREATE TRIGGER deliveries_day_counts AFTER INSERT OR DELETE ON %I
                  FOR EACH ROW EXECUTE FUNCTION patchbay_count_delivery_day(%L)', part, d);
  EXECUTE format('CREATE TRIGGER deliveries_day_counts_upd AFTER UPDATE OF status, delivered_at ON %I
                  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                                     OR OLD.delivered_at IS DISTINCT FROM NEW.delivered_at)
                  EXECUTE FUNCTION patchbay_count_delivery_day(%L)', part, d);
  RETURN true;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- As in 0018, and a day made before the counted-through day (an old id's day) is counted at once (it is empty:
-- a day with rows in the default partition is not made), so every partition before that day stays counted.
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
    IF d < (SELECT t.day FROM delivery_counted_through t) THEN
      PERFORM patchbay_count_delivery_partition(part);
    END IF;
    made := made + 1;
  END LOOP;
  RETURN made;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- Days that ended get their status indexes (now in the list's id order) and are counted into
-- delivery_day_counts; then every day before `before_day` is counted.
CREATE OR REPLACE FUNCTION patchbay_seal_delivery_partitions(before_day date) RETURNS integer AS $$
DECLARE
  p record;
  made integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7206311022);
  FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'deliveries'::regclass AND c.relname ~ '^deliveries_p[0-9]{8}$'
             AND to_date(substr(c.relname, 13), 'YYYYMMDD') < before_day
           ORDER BY c.relname LOOP
    PERFORM patchbay_count_delivery_partition(p.relname);
    CONTINUE WHEN to_regclass(quote_ident(p.relname || '_target_status_idx')) IS NOT NULL;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (org_id, status, id)',
                   p.relname || '_status_idx', p.relname);
    EXECUTE format('CREATE INDEX %I ON %I (target_id, status, id)',
                   p.relname || '_target_status_idx', p.relname);
    made := made + 1;
  END LOOP;
  INSERT INTO delivery_counted_through (one, day) VALUES (true, before_day)
  ON CONFLICT (one) DO UPDATE SET day = greatest(delivery_counted_through.day, EXCLUDED.day);
  RETURN made;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- The sealed days' status indexes were by created_at; rebuild them by id, and count every day that ended.
DO $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'deliveries'::regclass AND c.relname ~ '^deliveries_p[0-9]{8}$' LOOP
    EXECUTE format('DROP INDEX IF EXISTS %I', p.relname || '_status_idx');
    EXECUTE format('DROP INDEX IF EXISTS %I', p.relname || '_target_status_idx');
  END LOOP;
END $$;--> statement-breakpoint
SELECT patchbay_seal_delivery_partitions((now() AT TIME ZONE 'UTC')::date - 1);

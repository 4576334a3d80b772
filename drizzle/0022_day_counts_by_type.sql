-- The counts are rebuilt with the target type below: emptied first so the new column can be NOT NULL.
DELETE FROM "delivery_day_counts";--> statement-breakpoint
ALTER TABLE "delivery_day_counts" DROP CONSTRAINT "delivery_day_counts_target_id_org_id_day_status_pk";--> statement-breakpoint
ALTER TABLE "delivery_day_counts" ADD COLUMN "target_type" text NOT NULL;--> statement-breakpoint
ALTER TABLE "delivery_day_counts" ADD CONSTRAINT "delivery_day_counts_target_id_org_id_day_status_target_type_pk" PRIMARY KEY("target_id","org_id","day","status","target_type");--> statement-breakpoint
-- Custom SQL below (drizzle does not model triggers or functions).
-- As in 0021, with the target type in the group (a list filtered by a type and a target counts that type only),
-- and the group's latest delivered_at read again from the day's partition when the row holding it is deleted or
-- leaves the group (before, it stayed until the group's count reached 0, naming a deleted delivery). Only the row
-- holding the latest pays that read; an AFTER trigger sees the whole statement's changes, so a batch deleting many
-- of a group's rows reads it once (or once more per row with the very same delivered_at).
CREATE OR REPLACE FUNCTION patchbay_count_delivery_day() RETURNS trigger AS $$
DECLARE
  last timestamptz;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE delivery_day_counts
       SET n = n - 1, last_delivered_at = CASE WHEN n > 1 THEN last_delivered_at END
     WHERE target_id = OLD.target_id AND org_id = OLD.org_id AND day = TG_ARGV[0]::date AND status = OLD.status
       AND target_type = OLD.target_type
    RETURNING last_delivered_at INTO last;
    IF last IS NOT NULL AND last = OLD.delivered_at THEN
      EXECUTE format('SELECT max(delivered_at) FROM %I.%I
                      WHERE target_id = $1 AND status = $2 AND org_id = $3 AND target_type = $4',
                     TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO last USING OLD.target_id, OLD.status, OLD.org_id, OLD.target_type;
      UPDATE delivery_day_counts SET last_delivered_at = last
       WHERE target_id = OLD.target_id AND org_id = OLD.org_id AND day = TG_ARGV[0]::date AND status = OLD.status
         AND target_type = OLD.target_type;
    END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO delivery_day_counts AS c (target_id, org_id, day, status, target_type, n, last_delivered_at)
    VALUES (NEW.target_id, NEW.org_id, TG_ARGV[0]::date, NEW.status, NEW.target_type, 1, NEW.delivered_at)
    ON CONFLICT (target_id, org_id, day, status, target_type) DO UPDATE
      SET n = c.n + 1, last_delivered_at = greatest(c.last_delivered_at, EXCLUDED.last_delivered_at);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- As in 0021, grouped by target type too.
CREATE OR REPLACE FUNCTION patchbay_count_delivery_partition(part text) RETURNS boolean AS $$
DECLARE
  d date := to_date(substr(part, 13), 'YYYYMMDD');
BEGIN
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part::regclass AND tgname = 'deliveries_day_counts_upd') THEN
    RETURN false;
  END IF;
  EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', part);
  DELETE FROM delivery_day_counts WHERE day = d;
  EXECUTE format('INSERT INTO delivery_day_counts (target_id, org_id, day, status, target_type, n, last_delivered_at)
                  SELECT target_id, org_id, %L, status, target_type, count(*), max(delivered_at) FROM %I
                  GROUP BY target_id, org_id, status, target_type', d, part);
  EXECUTE format('CREATE TRIGGER deliveries_day_counts AFTER INSERT OR DELETE ON %I
                  FOR EACH ROW EXECUTE FUNCTION patchbay_count_delivery_day(%L)', part, d);
  EXECUTE format('CREATE TRIGGER deliveries_day_counts_upd AFTER UPDATE OF status, delivered_at ON %I
                  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                                     OR OLD.delivered_at IS DISTINCT FROM NEW.delivered_at)
                  EXECUTE FUNCTION patchbay_count_delivery_day(%L)', part, d);
  RETURN true;
END $$ LANGUAGE plpgsql;--> statement-breakpoint

-- Count again every day counted so far (its triggers stay), now by target type as well.
DO $$
DECLARE
  p record;
BEGIN
  PERFORM pg_advisory_xact_lock(7206311022);
  FOR p IN SELECT c.relname, to_date(substr(c.relname, 13), 'YYYYMMDD') AS d
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'deliveries'::regclass AND c.relname ~ '^deliveries_p[0-9]{8}$'
             AND EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'deliveries_day_counts_upd')
           ORDER BY c.relname LOOP
    EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', p.relname);
    EXECUTE format('INSERT INTO delivery_day_counts (target_id, org_id, day, status, target_type, n, last_delivered_at)
                    SELECT target_id, org_id, %L, status, target_type, count(*), max(delivered_at) FROM %I
                    GROUP BY target_id, org_id, status, target_type', p.d, p.relname);
  END LOOP;
END $$;

CREATE TABLE "delivery_queue" (
	"id" uuid PRIMARY KEY NOT NULL,
	"target_id" uuid NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"lease_until" timestamp with time zone,
	"leased_by" text
);
--> statement-breakpoint
DROP INDEX "deliveries_due_idx";--> statement-breakpoint
DROP INDEX "deliveries_lease_idx";--> statement-breakpoint
ALTER TABLE "delivery_queue" ADD CONSTRAINT "delivery_queue_id_deliveries_id_fk" FOREIGN KEY ("id") REFERENCES "public"."deliveries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "delivery_queue_due_idx" ON "delivery_queue" USING btree ("next_attempt_at") WHERE "delivery_queue"."lease_until" IS NULL;--> statement-breakpoint
CREATE INDEX "delivery_queue_lease_idx" ON "delivery_queue" USING btree ("lease_until") WHERE "delivery_queue"."lease_until" IS NOT NULL;--> statement-breakpoint
-- Work already queued moves over; anything under way is due again (at-least-once).
INSERT INTO "delivery_queue" ("id", "target_id", "next_attempt_at", "attempts")
SELECT "id", "target_id", COALESCE("next_attempt_at", now()),
       CASE WHEN "status" = 'in_progress' THEN "attempts" - 1 ELSE "attempts" END
FROM "deliveries" WHERE "status" IN ('pending', 'retrying', 'in_progress');--> statement-breakpoint
UPDATE "deliveries" SET "status" = CASE WHEN "attempts" > 1 THEN 'retrying'::delivery_status ELSE 'pending' END,
  "attempts" = "attempts" - 1 WHERE "status" = 'in_progress';--> statement-breakpoint
-- Every way a delivery is made (fan-outs, tests, retries, recovery) inserts into "deliveries"; one statement
-- trigger queues the pending ones, so none of them can forget to.
CREATE OR REPLACE FUNCTION patchbay_enqueue_deliveries() RETURNS trigger AS $$
BEGIN
  INSERT INTO delivery_queue (id, target_id, next_attempt_at, attempts)
  SELECT n.id, n.target_id, COALESCE(n.next_attempt_at, now()), n.attempts
  FROM new_deliveries n WHERE n.status IN ('pending', 'retrying');
  RETURN NULL;
END $$ LANGUAGE plpgsql;--> statement-breakpoint
CREATE TRIGGER deliveries_enqueue AFTER INSERT ON deliveries
  REFERENCING NEW TABLE AS new_deliveries FOR EACH STATEMENT EXECUTE FUNCTION patchbay_enqueue_deliveries();--> statement-breakpoint
-- A queue churns: every row is inserted, updated and deleted within seconds. Vacuum it after a few thousand dead
-- rows rather than a fraction of its size, so claims do not wade through dead index entries.
ALTER TABLE "delivery_queue" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
  autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000,
  autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000, autovacuum_vacuum_cost_delay = 0);--> statement-breakpoint
-- Room on each page for the one update per attempt to stay on the page (a HOT update: no index writes).
ALTER TABLE "deliveries" SET (fillfactor = 80);--> statement-breakpoint
ALTER TABLE "deliveries" DROP COLUMN "lease_until";--> statement-breakpoint
ALTER TABLE "deliveries" DROP COLUMN "leased_by";
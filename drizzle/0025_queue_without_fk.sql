-- The queue's foreign key to the history is dropped: for every queued delivery it ran a partition-routed lookup of
-- the history row and took a row lock on it (FOR KEY SHARE, itself a write to the history page), about 60% of
-- the ingest's `INSERT INTO deliveries` in the bench. The rows it guarded come from the enqueue trigger, which
-- queues only deliveries just inserted; what its ON DELETE CASCADE did, this statement trigger does: deleting
-- deliveries (a webhook deleted with its history) removes their queue rows in the same statement. Retention's
-- DETACH/DROP of a day needs nothing: it drops only days whose deliveries are all finished, and finished
-- deliveries have no queue row.
ALTER TABLE "delivery_queue" DROP CONSTRAINT "delivery_queue_id_deliveries_id_fk";--> statement-breakpoint
CREATE OR REPLACE FUNCTION patchbay_dequeue_deleted() RETURNS trigger AS $$
BEGIN
  DELETE FROM delivery_queue q WHERE q.id IN (SELECT o.id FROM old_deliveries o);
  RETURN NULL;
END $$ LANGUAGE plpgsql;--> statement-breakpoint
CREATE TRIGGER deliveries_dequeue_deleted AFTER DELETE ON deliveries
  REFERENCING OLD TABLE AS old_deliveries FOR EACH STATEMENT EXECUTE FUNCTION patchbay_dequeue_deleted();

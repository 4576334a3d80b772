CREATE TABLE "psa_sync_runs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"trigger" text NOT NULL,
	"status" text NOT NULL,
	"since" timestamp with time zone,
	"phase" text NOT NULL,
	"cursor" text,
	"mapped_after" uuid,
	"pages" integer DEFAULT 0 NOT NULL,
	"tickets_listed" integer DEFAULT 0 NOT NULL,
	"mappings_checked" integer DEFAULT 0 NOT NULL,
	"mappings_updated" integer DEFAULT 0 NOT NULL,
	"tickets_missing" integer DEFAULT 0 NOT NULL,
	"error" text,
	"queued_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "psa_ticket_mappings" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"alert_id" text NOT NULL,
	"device_id" text,
	"external_ticket_id" text,
	"external_ticket_number" text,
	"external_ticket_url" text,
	"status" text,
	"title" text,
	"state" text NOT NULL,
	"alert_status" text NOT NULL,
	"claimed_by" uuid,
	"claim_until" timestamp with time zone,
	"last_error" text,
	"last_note_event_id" text,
	"last_sync_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "psa_sync_runs" ADD CONSTRAINT "psa_sync_runs_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "psa_sync_runs" ADD CONSTRAINT "psa_sync_runs_connection_id_integrations_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "psa_ticket_mappings" ADD CONSTRAINT "psa_ticket_mappings_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "psa_ticket_mappings" ADD CONSTRAINT "psa_ticket_mappings_connection_id_integrations_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "psa_sync_runs_active_idx" ON "psa_sync_runs" USING btree ("connection_id") WHERE "psa_sync_runs"."status" IN ('queued', 'running');--> statement-breakpoint
CREATE INDEX "psa_sync_runs_connection_idx" ON "psa_sync_runs" USING btree ("connection_id","queued_at");--> statement-breakpoint
CREATE UNIQUE INDEX "psa_ticket_mappings_alert_idx" ON "psa_ticket_mappings" USING btree ("connection_id","alert_id");--> statement-breakpoint
CREATE INDEX "psa_ticket_mappings_org_idx" ON "psa_ticket_mappings" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE INDEX "psa_ticket_mappings_org_alert_idx" ON "psa_ticket_mappings" USING btree ("org_id","alert_id");--> statement-breakpoint
CREATE INDEX "psa_ticket_mappings_ticket_idx" ON "psa_ticket_mappings" USING btree ("connection_id","external_ticket_id");
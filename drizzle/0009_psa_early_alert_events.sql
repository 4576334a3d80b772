CREATE TABLE "psa_early_alert_events" (
	"org_id" uuid NOT NULL,
	"event_id" text NOT NULL,
	"alert_id" text NOT NULL,
	"event_type" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "psa_early_alert_events_org_id_event_id_pk" PRIMARY KEY("org_id","event_id")
);
--> statement-breakpoint
ALTER TABLE "psa_early_alert_events" ADD CONSTRAINT "psa_early_alert_events_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "psa_early_alert_events_alert_idx" ON "psa_early_alert_events" USING btree ("org_id","alert_id");--> statement-breakpoint
CREATE INDEX "psa_early_alert_events_created_idx" ON "psa_early_alert_events" USING btree ("created_at");
CREATE TABLE "ticketing_alert_tickets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"integration_id" uuid NOT NULL,
	"alert_key" text NOT NULL,
	"event_id" text NOT NULL,
	"external_id" text,
	"external_url" text,
	"created_at" timestamp with time zone NOT NULL,
	"ticket_created_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "ticketing_alert_tickets" ADD CONSTRAINT "ticketing_alert_tickets_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticketing_alert_tickets" ADD CONSTRAINT "ticketing_alert_tickets_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "ticketing_alert_tickets_alert_idx" ON "ticketing_alert_tickets" USING btree ("integration_id","alert_key");--> statement-breakpoint
CREATE INDEX "ticketing_alert_tickets_org_idx" ON "ticketing_alert_tickets" USING btree ("org_id","created_at");
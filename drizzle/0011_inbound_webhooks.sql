CREATE TABLE "webhook_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"source_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"status" text NOT NULL,
	"stage" text,
	"headers" jsonb NOT NULL,
	"body" text,
	"body_bytes" integer NOT NULL,
	"verified" text,
	"replay_of" uuid,
	"attempts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"parsed" jsonb,
	"normalized" jsonb,
	"platform_events" jsonb,
	"failure" jsonb,
	"received_at" timestamp with time zone NOT NULL,
	"processed_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_sources" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"integration_id" uuid,
	"name" text NOT NULL,
	"event_types" text[],
	"hook_id" text NOT NULL,
	"secret" text NOT NULL,
	"previous_secret" text,
	"previous_secret_expires_at" timestamp with time zone,
	"rejected_count" integer DEFAULT 0 NOT NULL,
	"last_rejected_at" timestamp with time zone,
	"reject_window_start" timestamp with time zone,
	"reject_window_count" integer DEFAULT 0 NOT NULL,
	"created_by_key_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "webhook_events" ADD CONSTRAINT "webhook_events_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_events" ADD CONSTRAINT "webhook_events_source_id_webhook_sources_id_fk" FOREIGN KEY ("source_id") REFERENCES "public"."webhook_sources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_sources" ADD CONSTRAINT "webhook_sources_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_sources" ADD CONSTRAINT "webhook_sources_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_events_org_idx" ON "webhook_events" USING btree ("org_id","received_at");--> statement-breakpoint
CREATE INDEX "webhook_events_source_idx" ON "webhook_events" USING btree ("source_id","received_at");--> statement-breakpoint
CREATE INDEX "webhook_events_received_idx" ON "webhook_events" USING btree ("received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_sources_hook_idx" ON "webhook_sources" USING btree ("hook_id");--> statement-breakpoint
CREATE INDEX "webhook_sources_org_idx" ON "webhook_sources" USING btree ("org_id","created_at");
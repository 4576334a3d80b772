CREATE TABLE "change_settings" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"integration_id" uuid NOT NULL,
	"settings" jsonb NOT NULL,
	"device_sync" jsonb,
	"last_device_sync_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "change_steps" (
	"change_id" uuid NOT NULL,
	"step" text NOT NULL,
	"done_at" timestamp with time zone NOT NULL,
	CONSTRAINT "change_steps_change_id_step_pk" PRIMARY KEY("change_id","step")
);
--> statement-breakpoint
CREATE TABLE "changes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"implementation_plan" text NOT NULL,
	"window_start" timestamp with time zone,
	"window_end" timestamp with time zone,
	"risk" text NOT NULL,
	"creator" jsonb NOT NULL,
	"technical_approver" jsonb NOT NULL,
	"operational_approver" jsonb NOT NULL,
	"committee" boolean DEFAULT false NOT NULL,
	"vcab_members" jsonb NOT NULL,
	"status" text NOT NULL,
	"seq" integer DEFAULT 0 NOT NULL,
	"approvals" jsonb NOT NULL,
	"outcome" jsonb NOT NULL,
	"ticket" jsonb,
	"devices" jsonb NOT NULL,
	"unknown_hostnames" jsonb NOT NULL,
	"unscheduled_resources" jsonb NOT NULL,
	"sync_claimed_by" uuid,
	"sync_claim_until" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "devices" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"integration_id" uuid NOT NULL,
	"external_id" text NOT NULL,
	"hostname" text NOT NULL,
	"device_type" text NOT NULL,
	"source_type" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "change_settings" ADD CONSTRAINT "change_settings_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "change_settings" ADD CONSTRAINT "change_settings_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "change_steps" ADD CONSTRAINT "change_steps_change_id_changes_id_fk" FOREIGN KEY ("change_id") REFERENCES "public"."changes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "changes" ADD CONSTRAINT "changes_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "devices" ADD CONSTRAINT "devices_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "devices" ADD CONSTRAINT "devices_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "changes_org_idx" ON "changes" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "devices_external_idx" ON "devices" USING btree ("integration_id","external_id");--> statement-breakpoint
CREATE INDEX "devices_org_host_idx" ON "devices" USING btree ("org_id","hostname");
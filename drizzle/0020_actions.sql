CREATE TABLE "action_attempts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"action_id" uuid NOT NULL,
	"org_id" uuid NOT NULL,
	"delivery_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"outcome" text,
	"response_status" integer,
	"response_body" text,
	"error_message" text
);
--> statement-breakpoint
CREATE TABLE "action_settings" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"approver_scope" text DEFAULT 'any' NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "actions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"integration_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"action" text NOT NULL,
	"input" jsonb NOT NULL,
	"sealed_input" text NOT NULL,
	"needs_approval" boolean NOT NULL,
	"status" text NOT NULL,
	"preview" jsonb,
	"requested_by_key_id" uuid,
	"requested_by_scope" text,
	"approved_by_key_id" uuid,
	"approved_at" timestamp with time zone,
	"rejected_by_key_id" uuid,
	"rejected_at" timestamp with time zone,
	"reject_reason" text,
	"expires_at" timestamp with time zone,
	"delivery_id" uuid,
	"result_status" integer,
	"result_body" text,
	"vendor_ref" text,
	"error_message" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "action_attempts" ADD CONSTRAINT "action_attempts_action_id_actions_id_fk" FOREIGN KEY ("action_id") REFERENCES "public"."actions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "action_settings" ADD CONSTRAINT "action_settings_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "actions" ADD CONSTRAINT "actions_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "actions" ADD CONSTRAINT "actions_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "action_attempts_action_idx" ON "action_attempts" USING btree ("action_id","started_at");--> statement-breakpoint
CREATE INDEX "actions_org_idx" ON "actions" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE INDEX "actions_pending_idx" ON "actions" USING btree ("expires_at");
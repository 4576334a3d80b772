CREATE TYPE "public"."integration_status" AS ENUM('pending_verify', 'active', 'inactive', 'error');--> statement-breakpoint
CREATE TYPE "public"."job_status" AS ENUM('pending', 'running', 'completed', 'failed');--> statement-breakpoint
CREATE TABLE "integration_probes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"integration_id" uuid NOT NULL,
	"org_id" uuid NOT NULL,
	"probed_at" timestamp with time zone NOT NULL,
	"ok" boolean NOT NULL,
	"latency_ms" integer NOT NULL,
	"http_status" integer,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "integrations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"name" text,
	"is_default" boolean DEFAULT false NOT NULL,
	"status" "integration_status" NOT NULL,
	"enabled_capabilities" jsonb NOT NULL,
	"credentials" text,
	"credentials_public" jsonb NOT NULL,
	"settings" jsonb NOT NULL,
	"metadata" jsonb NOT NULL,
	"verify_seq" integer DEFAULT 1 NOT NULL,
	"verified_at" timestamp with time zone,
	"last_tested_at" timestamp with time zone,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"error_source" text,
	"consecutive_probe_failures" integer DEFAULT 0 NOT NULL,
	"next_probe_at" timestamp with time zone,
	"last_probe_at" timestamp with time zone,
	"last_probe_ok" boolean,
	"last_sync_at" timestamp with time zone,
	"last_sync_status" text,
	"last_sync_error" text,
	"created_by_key_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "routing_rules" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"capability" text NOT NULL,
	"integration_id" uuid NOT NULL,
	"fallback_integration_id" uuid,
	"priority" integer DEFAULT 0 NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"conditions" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_schedules" (
	"name" text PRIMARY KEY NOT NULL,
	"interval_ms" integer NOT NULL,
	"next_run_at" timestamp with time zone NOT NULL,
	"last_run_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" "job_status" NOT NULL,
	"run_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"last_error" text,
	"dedupe_key" text,
	"group_key" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "integration_probes" ADD CONSTRAINT "integration_probes_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "integrations" ADD CONSTRAINT "integrations_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "routing_rules" ADD CONSTRAINT "routing_rules_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "routing_rules" ADD CONSTRAINT "routing_rules_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "routing_rules" ADD CONSTRAINT "routing_rules_fallback_integration_id_integrations_id_fk" FOREIGN KEY ("fallback_integration_id") REFERENCES "public"."integrations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "integration_probes_integration_time_idx" ON "integration_probes" USING btree ("integration_id","probed_at");--> statement-breakpoint
CREATE INDEX "integration_probes_time_idx" ON "integration_probes" USING btree ("probed_at");--> statement-breakpoint
CREATE INDEX "integrations_org_provider_idx" ON "integrations" USING btree ("org_id","provider");--> statement-breakpoint
CREATE UNIQUE INDEX "integrations_instance_name_idx" ON "integrations" USING btree ("org_id","provider",lower(coalesce("name", ''))) WHERE "integrations"."deleted_at" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "integrations_default_idx" ON "integrations" USING btree ("org_id","provider") WHERE "integrations"."is_default" AND "integrations"."deleted_at" IS NULL;--> statement-breakpoint
CREATE INDEX "integrations_next_probe_idx" ON "integrations" USING btree ("next_probe_at") WHERE "integrations"."deleted_at" IS NULL;--> statement-breakpoint
CREATE INDEX "routing_rules_org_capability_idx" ON "routing_rules" USING btree ("org_id","capability");--> statement-breakpoint
CREATE UNIQUE INDEX "routing_rules_default_idx" ON "routing_rules" USING btree ("org_id","capability") WHERE "routing_rules"."is_default";--> statement-breakpoint
CREATE INDEX "jobs_due_idx" ON "jobs" USING btree ("status","run_at");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_dedupe_idx" ON "jobs" USING btree ("dedupe_key") WHERE "jobs"."dedupe_key" IS NOT NULL AND "jobs"."status" IN ('pending', 'running');--> statement-breakpoint
CREATE INDEX "jobs_finished_idx" ON "jobs" USING btree ("finished_at");
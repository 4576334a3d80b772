ALTER TABLE "webhook_sources" ADD COLUMN "registration_status" text;--> statement-breakpoint
ALTER TABLE "webhook_sources" ADD COLUMN "registration_vendor_id" text;--> statement-breakpoint
ALTER TABLE "webhook_sources" ADD COLUMN "registration_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "webhook_sources" ADD COLUMN "registration_error" text;--> statement-breakpoint
ALTER TABLE "webhook_sources" ADD COLUMN "registration_options" jsonb;
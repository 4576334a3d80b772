CREATE TABLE "microsoft365_onboarding_customers" (
	"partner_id" uuid NOT NULL,
	"customer_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"company_name" text NOT NULL,
	"domain" text,
	"org_id" uuid NOT NULL,
	"status" text NOT NULL,
	"failed_step" text,
	"error" text,
	"fix" text,
	"integration_id" uuid,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "microsoft365_onboarding_customers_partner_id_customer_id_pk" PRIMARY KEY("partner_id","customer_id")
);
--> statement-breakpoint
CREATE TABLE "microsoft365_partner_apps" (
	"id" uuid PRIMARY KEY NOT NULL,
	"partner_id" uuid NOT NULL,
	"app_id" text NOT NULL,
	"partner_tenant_id" text NOT NULL,
	"client_secret" text NOT NULL,
	"grants" jsonb NOT NULL,
	"login_base_url" text NOT NULL,
	"graph_base_url" text NOT NULL,
	"partner_center_base_url" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "microsoft365_partner_apps_partner_id_unique" UNIQUE("partner_id")
);
--> statement-breakpoint
ALTER TABLE "microsoft365_onboarding_customers" ADD CONSTRAINT "microsoft365_onboarding_customers_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "microsoft365_onboarding_customers" ADD CONSTRAINT "microsoft365_onboarding_customers_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "microsoft365_onboarding_customers" ADD CONSTRAINT "microsoft365_onboarding_customers_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "microsoft365_partner_apps" ADD CONSTRAINT "microsoft365_partner_apps_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "microsoft365_onboarding_customers_org_idx" ON "microsoft365_onboarding_customers" USING btree ("org_id");
-- Webhook custom header values are sealed in the vault (header_values); the plain values still in "headers" are
-- sealed by `sealPlaintextHeaders` when Patchbay starts (the vault key is not available to SQL).
ALTER TABLE "webhooks" ADD COLUMN "header_values" text;--> statement-breakpoint
-- Token prefixes show at most four characters after the `pbk_` type prefix (four in all for an operator-chosen
-- bootstrap token without it): twelve were half of a 24-character bootstrap token.
UPDATE "api_keys" SET "token_prefix" = CASE WHEN "token_prefix" LIKE 'pbk\_%' THEN left("token_prefix", 8) ELSE left("token_prefix", 4) END;--> statement-breakpoint
UPDATE "audit_logs" SET "summary" = jsonb_set("summary", '{tokenPrefix}', to_jsonb(CASE WHEN "summary"->>'tokenPrefix' LIKE 'pbk\_%' THEN left("summary"->>'tokenPrefix', 8) ELSE left("summary"->>'tokenPrefix', 4) END))
  WHERE jsonb_typeof("summary"->'tokenPrefix') = 'string';--> statement-breakpoint
-- An entry naming no organization is filed under the tenant of the key that made it (a partner-wide delivery
-- retry had neither, so no partner key could see it).
UPDATE "audit_logs" a SET "partner_id" = k."partner_id" FROM "api_keys" k
  WHERE a."actor_key_id" = k."id" AND a."org_id" IS NULL AND a."partner_id" IS NULL AND k."scope" = 'partner';--> statement-breakpoint
UPDATE "audit_logs" a SET "org_id" = k."org_id" FROM "api_keys" k
  WHERE a."actor_key_id" = k."id" AND a."org_id" IS NULL AND a."partner_id" IS NULL AND k."scope" = 'organization';

-- Webhook custom header values are sealed in the vault (header_values); the plain values still in "headers" are
-- sealed by `sealPlaintextHeaders` when Patchbay starts (the vault key is not available to SQL).
ALTER TABLE "webhooks" ADD COLUMN "header_values" text;

CREATE TABLE "request_budgets" (
	"account" text PRIMARY KEY NOT NULL,
	"window_start_ms" bigint NOT NULL,
	"used" integer NOT NULL
);

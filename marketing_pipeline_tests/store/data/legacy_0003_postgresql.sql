-- The marketing tables as `marketing-pipeline init` made them up to revision 0003 (before issue 23), on
-- PostgreSQL: our columns and indexes on Prisma's tables and our tables beside them, all in `public`.
-- Taken from `pg_dump --schema-only` of a database that init had just made; the tests fill it with rows
-- and upgrade it.
CREATE TABLE "MarketingApiRate" (
    api text NOT NULL,
    "requestsPerSecond" double precision NOT NULL,
    "limitSeen" boolean DEFAULT false NOT NULL,
    "updatedAt" timestamp(3) without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL
);
CREATE TABLE "MarketingSync" (
    id text NOT NULL,
    name text NOT NULL,
    description text,
    "sourceType" text NOT NULL,
    "destType" text NOT NULL,
    "filterConfig" jsonb NOT NULL,
    "tagName" text NOT NULL,
    schedule text,
    enabled boolean DEFAULT true NOT NULL,
    "createdAt" timestamp(3) without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    "updatedAt" timestamp(3) without time zone NOT NULL,
    key text
);
CREATE TABLE "MarketingSyncRun" (
    id text NOT NULL,
    "syncId" text NOT NULL,
    status text NOT NULL,
    "triggeredBy" text NOT NULL,
    "startedAt" timestamp(3) without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    "completedAt" timestamp(3) without time zone,
    "contactsTotal" integer DEFAULT 0 NOT NULL,
    "contactsCreated" integer DEFAULT 0 NOT NULL,
    "contactsUpdated" integer DEFAULT 0 NOT NULL,
    "contactsRemoved" integer DEFAULT 0 NOT NULL,
    "contactsSkipped" integer DEFAULT 0 NOT NULL,
    "contactsFailed" integer DEFAULT 0 NOT NULL,
    "errorMessage" text,
    details jsonb,
    "dagsterRunId" text,
    "dryRun" boolean
);
CREATE TABLE "MarketingSyncWrittenFields" (
    "syncId" text NOT NULL,
    "emailKey" text NOT NULL,
    "personId" text,
    "firstName" text,
    "lastName" text,
    company text,
    "writtenAt" timestamp(3) without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL
);
CREATE TABLE marketing_pipeline_alembic_version (
    version_num character varying(32) NOT NULL
);
ALTER TABLE ONLY "MarketingApiRate"
    ADD CONSTRAINT "MarketingApiRate_pkey" PRIMARY KEY (api);
ALTER TABLE ONLY "MarketingSyncRun"
    ADD CONSTRAINT "MarketingSyncRun_pkey" PRIMARY KEY (id);
ALTER TABLE ONLY "MarketingSyncWrittenFields"
    ADD CONSTRAINT "MarketingSyncWrittenFields_pkey" PRIMARY KEY ("syncId", "emailKey");
ALTER TABLE ONLY "MarketingSync"
    ADD CONSTRAINT "MarketingSync_pkey" PRIMARY KEY (id);
ALTER TABLE ONLY marketing_pipeline_alembic_version
    ADD CONSTRAINT marketing_pipeline_alembic_version_pkc PRIMARY KEY (version_num);
CREATE UNIQUE INDEX "MarketingSyncRun_dagsterRunId_key" ON "MarketingSyncRun" USING btree ("dagsterRunId");
CREATE UNIQUE INDEX "MarketingSyncRun_one_running_per_sync" ON "MarketingSyncRun" USING btree ("syncId") WHERE (status = 'running'::text);
CREATE INDEX "MarketingSyncRun_syncId_startedAt_idx" ON "MarketingSyncRun" USING btree ("syncId", "startedAt");
CREATE UNIQUE INDEX "MarketingSync_key_key" ON "MarketingSync" USING btree (key);
ALTER TABLE ONLY "MarketingSyncRun"
    ADD CONSTRAINT "MarketingSyncRun_syncId_fkey" FOREIGN KEY ("syncId") REFERENCES "MarketingSync"(id) ON UPDATE CASCADE ON DELETE RESTRICT;
ALTER TABLE ONLY "MarketingSyncWrittenFields"
    ADD CONSTRAINT "MarketingSyncWrittenFields_syncId_fkey" FOREIGN KEY ("syncId") REFERENCES "MarketingSync"(id) ON UPDATE CASCADE ON DELETE CASCADE;
INSERT INTO marketing_pipeline_alembic_version VALUES ('0003');

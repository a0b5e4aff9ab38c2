-- The marketing tables as `marketing-pipeline init` made them up to revision 0003 (before issue 23), in an
-- SQLite file: our columns and indexes on the specification's tables, our tables beside them. Taken from
-- `sqlite_master` of a file that init had just made; the tests fill it with rows and upgrade it.
CREATE TABLE marketing_pipeline_alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT marketing_pipeline_alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE "MarketingSync" (
	id TEXT NOT NULL,
	name TEXT NOT NULL,
	description TEXT,
	"sourceType" TEXT NOT NULL,
	"destType" TEXT NOT NULL,
	"filterConfig" JSON NOT NULL,
	"tagName" TEXT NOT NULL,
	schedule TEXT,
	enabled BOOLEAN DEFAULT true NOT NULL,
	"createdAt" DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	"updatedAt" DATETIME NOT NULL,
	"key" TEXT,
	CONSTRAINT "MarketingSync_pkey" PRIMARY KEY (id)
);
CREATE TABLE "MarketingSyncRun" (
	id TEXT NOT NULL,
	"syncId" TEXT NOT NULL,
	status TEXT NOT NULL,
	"triggeredBy" TEXT NOT NULL,
	"startedAt" DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	"completedAt" DATETIME,
	"contactsTotal" INTEGER DEFAULT 0 NOT NULL,
	"contactsCreated" INTEGER DEFAULT 0 NOT NULL,
	"contactsUpdated" INTEGER DEFAULT 0 NOT NULL,
	"contactsRemoved" INTEGER DEFAULT 0 NOT NULL,
	"contactsSkipped" INTEGER DEFAULT 0 NOT NULL,
	"contactsFailed" INTEGER DEFAULT 0 NOT NULL,
	"errorMessage" TEXT,
	details JSON,
	"dagsterRunId" TEXT,
	"dryRun" BOOLEAN,
	CONSTRAINT "MarketingSyncRun_pkey" PRIMARY KEY (id),
	CONSTRAINT "MarketingSyncRun_syncId_fkey" FOREIGN KEY("syncId") REFERENCES "MarketingSync" (id) ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "MarketingSync_key_key" ON "MarketingSync" ("key");
CREATE UNIQUE INDEX "MarketingSyncRun_dagsterRunId_key" ON "MarketingSyncRun" ("dagsterRunId");
CREATE INDEX "MarketingSyncRun_syncId_startedAt_idx" ON "MarketingSyncRun" ("syncId", "startedAt");
CREATE UNIQUE INDEX "MarketingSyncRun_one_running_per_sync" ON "MarketingSyncRun" ("syncId") WHERE status = 'running';
CREATE TABLE "MarketingSyncWrittenFields" (
	"syncId" TEXT NOT NULL,
	"emailKey" TEXT NOT NULL,
	"personId" TEXT,
	"firstName" TEXT,
	"lastName" TEXT,
	company TEXT,
	"writtenAt" DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT "MarketingSyncWrittenFields_pkey" PRIMARY KEY ("syncId", "emailKey"),
	CONSTRAINT "MarketingSyncWrittenFields_syncId_fkey" FOREIGN KEY("syncId") REFERENCES "MarketingSync" (id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE TABLE "MarketingApiRate" (
	api TEXT NOT NULL,
	"requestsPerSecond" FLOAT NOT NULL,
	"limitSeen" BOOLEAN DEFAULT false NOT NULL,
	"updatedAt" DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	CONSTRAINT "MarketingApiRate_pkey" PRIMARY KEY (api)
);
INSERT INTO marketing_pipeline_alembic_version VALUES ('0003');

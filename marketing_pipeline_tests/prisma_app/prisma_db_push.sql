-- What `prisma db push` (Prisma 7, PostgreSQL) executes for the specification's two models in an empty
-- database: the form of `prisma migrate diff --from-empty --to-schema prisma/schema.prisma --script`.
-- The schema engine that emits it cannot be downloaded here, so the tests apply this script to an empty
-- database and compare the resulting catalog with ours.

-- CreateTable
CREATE TABLE "MarketingSync" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "sourceType" TEXT NOT NULL,
    "destType" TEXT NOT NULL,
    "filterConfig" JSONB NOT NULL,
    "tagName" TEXT NOT NULL,
    "schedule" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "MarketingSync_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MarketingSyncRun" (
    "id" TEXT NOT NULL,
    "syncId" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "triggeredBy" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMP(3),
    "contactsTotal" INTEGER NOT NULL DEFAULT 0,
    "contactsCreated" INTEGER NOT NULL DEFAULT 0,
    "contactsUpdated" INTEGER NOT NULL DEFAULT 0,
    "contactsRemoved" INTEGER NOT NULL DEFAULT 0,
    "contactsSkipped" INTEGER NOT NULL DEFAULT 0,
    "contactsFailed" INTEGER NOT NULL DEFAULT 0,
    "errorMessage" TEXT,
    "details" JSONB,

    CONSTRAINT "MarketingSyncRun_pkey" PRIMARY KEY ("id")
);

-- AddForeignKey
ALTER TABLE "MarketingSyncRun" ADD CONSTRAINT "MarketingSyncRun_syncId_fkey" FOREIGN KEY ("syncId") REFERENCES "MarketingSync"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

// What the NestJS app's marketing service does with the shared tables, through the real Prisma client:
// one command per call, its result as JSON on stdout (dates as ISO strings), an error as one line on
// stderr with exit code 1. The database is DATABASE_URL.
//
//   tsx scripts/app.ts create-sync '{"name": ..., "filterConfig": {...}, ...}'
//   tsx scripts/app.ts update-sync SYNC_ID '{"enabled": false}'
//   tsx scripts/app.ts delete-sync SYNC_ID
//   tsx scripts/app.ts list-syncs                     GET /syncs
//   tsx scripts/app.ts get-sync SYNC_ID               GET /syncs/:id (with its last 10 runs)
//   tsx scripts/app.ts list-runs SYNC_ID              GET /syncs/:id/runs (last 50)
//   tsx scripts/app.ts get-run SYNC_ID RUN_ID         GET /syncs/:id/runs/:runId
//   tsx scripts/app.ts sync-key SYNC_ID               the sync's key (its Dagster partition), or null
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("set DATABASE_URL");
  process.exit(2);
}
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });

async function run(command: string, args: string[]): Promise<unknown> {
  switch (command) {
    case "create-sync":
      return prisma.marketingSync.create({ data: JSON.parse(args[0]) });
    case "update-sync":
      return prisma.marketingSync.update({ where: { id: args[0] }, data: JSON.parse(args[1]) });
    case "delete-sync":
      return prisma.marketingSync.delete({ where: { id: args[0] } });
    case "list-syncs":
      return prisma.marketingSync.findMany({ orderBy: { createdAt: "asc" } });
    case "get-sync":
      return prisma.marketingSync.findUniqueOrThrow({
        where: { id: args[0] },
        include: { runs: { orderBy: { startedAt: "desc" }, take: 10 } },
      });
    case "list-runs":
      return prisma.marketingSyncRun.findMany({
        where: { syncId: args[0] },
        orderBy: { startedAt: "desc" },
        take: 50,
      });
    case "get-run":
      return prisma.marketingSyncRun.findFirstOrThrow({ where: { id: args[1], syncId: args[0] } });
    case "sync-key": {
      // The pipeline's own table, outside Prisma's schema: read with SQL, as the README shows.
      const rows = await prisma.$queryRaw<{ key: string }[]>`
        SELECT "key" FROM "marketing_pipeline"."MarketingSyncKey" WHERE "syncId" = ${args[0]}`;
      return rows[0]?.key ?? null;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

try {
  const result = await run(process.argv[2], process.argv.slice(3));
  process.stdout.write(JSON.stringify(result) + "\n");
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(message.replace(/\s+/g, " ").trim() + "\n");
  process.exitCode = 1;
} finally {
  await prisma.$disconnect();
}

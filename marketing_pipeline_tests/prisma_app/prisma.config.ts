// Prisma 7 reads the database URL from here, not from schema.prisma. The tests set DATABASE_URL; generating
// the client needs no database, so a placeholder stands in when it is unset.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost/unset" },
});

#!/usr/bin/env bash
# Installs the tests' NestJS-side Prisma app from the npm registry, exactly as package-lock.json pins it,
# and generates its client from the specification's models. Run by .ci/run before the tests, and by the
# tests themselves when the client is missing or older than its schema or lock file.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "Node.js and npm are not installed: the Prisma client tests need Node 20.19+ (Prisma 7)" >&2
  exit 1
fi
# Prisma 7's engines field: ^20.19 || ^22.12 || >=24.0
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 24 ? 0 : 1)'; then
  echo "Node $(node --version) is too old for Prisma 7 (it needs ^20.19, ^22.12 or 24+)" >&2
  exit 1
fi

# No install scripts: Prisma's would download engines from binaries.prisma.sh, which these machines cannot
# reach, and nothing here needs them (the client is Rust-free; esbuild's binary comes as a package).
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
# `prisma generate` fetches the schema engine before it starts, though generating never uses it.
PRISMA_SCHEMA_ENGINE_BINARY="$PWD/engine-stub.sh" PRISMA_HIDE_UPDATE_MESSAGE=1 \
  node_modules/.bin/prisma generate

#!/bin/sh
# Stands in for Prisma's schema engine, which cannot be downloaded here: `prisma generate` does not use it.
echo "the schema engine is not available here (db push, db pull and migrate diff need it)" >&2
exit 1

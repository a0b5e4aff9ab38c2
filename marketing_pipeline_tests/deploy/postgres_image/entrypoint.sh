#!/bin/sh
# What compose.yaml relies on in the official postgres image: on an empty data directory, a cluster whose
# superuser is POSTGRES_USER with POSTGRES_PASSWORD, the database POSTGRES_DB, then the *.sql files of
# /docker-entrypoint-initdb.d run in it; PostgreSQL then serves every address with password
# authentication, as the postgres user.
set -eu
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    chown postgres "$password_file"
    as_postgres initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$password_file" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 > /dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start > /dev/null
    database="${POSTGRES_DB:-$POSTGRES_USER}"
    if [ "$database" != postgres ]; then
        as_postgres psql -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \"$database\""
    fi
    for script in /docker-entrypoint-initdb.d/*.sql; do
        [ -e "$script" ] && as_postgres psql -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$database" -f "$script"
    done
    as_postgres pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$@" -D "$PGDATA" -c listen_addresses='*'

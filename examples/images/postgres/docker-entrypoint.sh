#!/usr/bin/env bash
# The official postgres image's entrypoint interface, on Debian's PostgreSQL:
# POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, POSTGRES_USER, POSTGRES_DB,
# POSTGRES_INITDB_ARGS and POSTGRES_HOST_AUTH_METHOD; PGDATA initialised on
# first start, running /docker-entrypoint-initdb.d/*.sh, *.sql and *.sql.gz
# once; the server runs as the user postgres.
set -Eeuo pipefail

# read_env VAR: the value of VAR, or the contents of the file VAR_FILE names.
read_env() {
    local var=$1 file_var="$1_FILE"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        echo "error: both $var and $file_var are set (but are exclusive)" >&2
        exit 1
    fi
    if [ -n "${!file_var:-}" ]; then
        cat -- "${!file_var}"
    else
        printf '%s' "${!var:-}"
    fi
}

# initialise: makes the cluster in PGDATA, its user and database, and runs the
# init scripts against a server that listens on its socket only.
initialise() {
    local password user db auth
    password=$(read_env POSTGRES_PASSWORD)
    user=${POSTGRES_USER:-postgres}
    db=${POSTGRES_DB:-$user}
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [ -z "$password" ] && [ "$auth" != trust ]; then
        cat >&2 <<'MESSAGE'
error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a
       non-empty value for the superuser, or POSTGRES_HOST_AUTH_METHOD=trust
       to allow all connections without a password.
MESSAGE
        exit 1
    fi
    local initdb_args=(--username="$user" --encoding=UTF8 --locale=C.UTF-8)
    # shellcheck disable=SC2206 # the official image splits these too
    initdb_args+=(${POSTGRES_INITDB_ARGS:-})
    if [ -n "$password" ]; then
        initdb -D "$PGDATA" "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$password")
    else
        initdb -D "$PGDATA" "${initdb_args[@]}"
    fi
    unset password
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    local psql=(psql -v ON_ERROR_STOP=1 --username "$user" --no-password --no-psqlrc)
    if [ "$db" != postgres ]; then
        "${psql[@]}" --dbname postgres --set db="$db" <<<'CREATE DATABASE :"db";'
    fi
    local file
    for file in /docker-entrypoint-initdb.d/*; do
        case "$file" in
        *.sh)
            echo "$0: running $file"
            if [ -x "$file" ]; then "$file"; else . "$file"; fi
            ;;
        *.sql)
            echo "$0: running $file"
            "${psql[@]}" --dbname "$db" -f "$file"
            ;;
        *.sql.gz)
            echo "$0: running $file"
            gunzip -c "$file" | "${psql[@]}" --dbname "$db"
            ;;
        *"/*") ;;
        *) echo "$0: ignoring $file" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "$0: PostgreSQL init process complete; ready for start up."
}

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    # A fresh volume, or one made by another user: hand it to postgres.
    mkdir -p "$PGDATA" /var/run/postgresql
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    chmod 700 "$PGDATA"
    chown postgres:postgres /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    initialise
fi

exec "$@"

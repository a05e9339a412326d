#!/bin/sh
# Entrypoint of the MiniTwit image. Docker secrets arrive as files under /run/secrets, while
# minitwit reads its settings from the environment: for each setting below, `NAME_FILE`
# (a path) becomes `NAME` (the file's content, trailing newline removed). Values never go
# through the command line, so they do not show in `ps` or `docker inspect`.
set -eu

for name in DATABASE_URL REDIS_URL MINITWIT_SECRET_KEY METRICS_TOKEN SIMULATOR_USER SIMULATOR_PASSWORD SENTRY_DSN; do
    eval "file=\${${name}_FILE:-}"
    if [ -n "$file" ]; then
        if [ ! -r "$file" ]; then
            echo "minitwit: ${name}_FILE=$file is not a readable file" >&2
            exit 1
        fi
        value=$(cat "$file")
        export "$name=$value"
        unset "${name}_FILE"
    fi
done

# Redis's password arrives on its own (the redis service reads the same secret), and is
# put into REDIS_URL here: redis://host:6379 becomes redis://:PASSWORD@host:6379.
if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    if [ ! -r "$REDIS_PASSWORD_FILE" ]; then
        echo "minitwit: REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE is not a readable file" >&2
        exit 1
    fi
    password=$(cat "$REDIS_PASSWORD_FILE")
    case "$password" in
        "" | *[!A-Za-z0-9._~-]*)
            echo "minitwit: the Redis password must be non-empty and URL-safe (e.g. openssl rand -hex 32)" >&2
            exit 1
            ;;
    esac
    case "${REDIS_URL:-}" in
        redis://* | rediss://*) ;;
        *)
            echo "minitwit: REDIS_PASSWORD_FILE needs REDIS_URL=redis://host:port" >&2
            exit 1
            ;;
    esac
    export REDIS_URL="${REDIS_URL%%://*}://:${password}@${REDIS_URL#*://}"
    unset REDIS_PASSWORD_FILE password
fi

exec minitwit "$@"

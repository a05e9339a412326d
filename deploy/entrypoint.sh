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

exec minitwit "$@"

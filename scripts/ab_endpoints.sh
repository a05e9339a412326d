#!/usr/bin/env bash
# Two builds of MiniTwit, turn about, on the same endpoints: req/s under wrk for each
# (BENCHMARKS.md, "Performance III"). For a change whose effect is smaller than the
# run-to-run spread of `bench http`: each round starts both servers on the same fresh data,
# one after the other, three rounds.
#
#   scripts/ab_endpoints.sh BEFORE_DIR AFTER_DIR sqlite|postgres PATH...
#
# Each DIR holds a release `minitwit` (copy target/release/minitwit there after building
# each commit). The data: one user `a` following `b`, 30 messages each, made through the
# simulator API. PostgreSQL runs use a database `minitwit_ab` on 127.0.0.1:5432 (user
# postgres), dropped and made again each round. Needs wrk (Debian's package).
set -euo pipefail
before=${1:?usage: $0 BEFORE_DIR AFTER_DIR sqlite|postgres PATH...}
after=${2:?}
backend=${3:?}
shift 3
[ $# -gt 0 ] || { echo "name at least one PATH, such as /api/latest" >&2; exit 2; }
port=${PORT:-18080}
base="http://127.0.0.1:$port"
auth='Authorization: Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh'
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

fresh_database() {
  case $backend in
    sqlite) rm -f "$work"/ab.db*; echo "sqlite://$work/ab.db?mode=rwc" ;;
    postgres)
      psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS minitwit_ab" \
        -c "CREATE DATABASE minitwit_ab" >/dev/null 2>&1
      echo "postgres://postgres@127.0.0.1:5432/minitwit_ab" ;;
    *) echo "backend: sqlite or postgres" >&2; exit 2 ;;
  esac
}

api() { curl -sf -o /dev/null -X POST -H "$auth" -H 'Content-Type: application/json' -d "$2" "$base/api/$1"; }

for round in 1 2 3; do
  for side in before after; do
    dir=$before; [ "$side" = after ] && dir=$after
    url=$(fresh_database)
    "$dir/minitwit" --bind "127.0.0.1:$port" --database-url "$url" >"$work/$side.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
    for user in a b; do
      api register "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"pwd\":\"secret\"}"
      for i in $(seq 30); do api "msgs/$user" "{\"content\":\"message $i\"}"; done
    done
    api fllws/a '{"follow":"b"}'
    line="round $round $side:"
    for path in "$@"; do
      rps=$(wrk -t2 -c64 -d4s -H "$auth" "$base$path" | awk '/Requests\/sec/ {print $2}')
      line="$line $path ${rps%.*}/s"
    done
    echo "$line"
    kill "$server"; wait "$server" 2>/dev/null || true
  done
done

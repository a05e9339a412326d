#!/bin/sh
# Scheduled PostgreSQL dumps: the stack's pg_backup service (docker-stack.yml) runs this in
# the postgres image. Every BACKUP_EVERY_SECONDS it writes BACKUP_DIR/minitwit-<UTC time>.dump
# (pg_dump's custom format: restore with pg_restore, README.md "Backups") and keeps the
# newest BACKUP_KEEP. The connection comes from libpq's PGHOST, PGUSER, PGDATABASE; the
# password from the file PGPASSWORD_FILE (a Docker secret).
set -u

dir="${BACKUP_DIR:-/backups}"
every="${BACKUP_EVERY_SECONDS:-3600}"
keep="${BACKUP_KEEP:-24}"
if [ -n "${PGPASSWORD_FILE:-}" ]; then
  PGPASSWORD="$(cat "$PGPASSWORD_FILE")"
  export PGPASSWORD
fi
mkdir -p "$dir"

while :; do
  dump="$dir/minitwit-$(date -u +%Y%m%dT%H%M%SZ).dump"
  # Written aside and renamed when complete, so every minitwit-*.dump is a whole dump.
  if pg_dump --format=custom --file="$dump.partial"; then
    mv "$dump.partial" "$dump"
    # Names sort by time: everything after the newest $keep goes.
    ls -1 "$dir"/minitwit-*.dump | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
      rm -f "$old"
    done
    echo "pg_backup: wrote $dump"
  else
    rm -f "$dump.partial"
    echo "pg_backup: pg_dump failed; retrying in ${every}s" >&2
  fi
  sleep "$every"
done

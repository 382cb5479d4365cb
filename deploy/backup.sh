#!/bin/bash
# A backup of yizhan with the databases' own tools: the database (PostgreSQL: pg_dump's custom
# format; SQLite: sqlite3's online .backup) and the attachments folder in a tar, with a MANIFEST
# and their SHA-256 sums, in a new folder DEST/yizhan-<UTC time>/.
#
#   deploy/backup.sh [--env /etc/yizhan/yizhan.env] DEST
#
# Reads DATABASE_URL, ATTACHMENTS_DIR and YIZHAN_INSTANCE as the application does (from the
# environment, or the file given with --env). KEEP=n keeps only the newest n backups in DEST.
# Runs while the application serves: the dump is one consistent snapshot, and the attachments are
# taken after it. Files are written before the transaction that names them commits and are never
# changed afterwards (their name is their SHA-256), so every file the dump names is in the tar.
# The folder appears under its final name only when everything in it is complete.
set -euo pipefail
. "$(dirname "$0")/_common.sh"
arguments "usage: deploy/backup.sh [--env FILE] DEST" "$@"
dest=$ARGUMENT

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$dest"
work=$(mktemp -d "$dest/.yizhan-$stamp.partial.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ "$DB_KIND" = postgresql ]; then
    dump=database.pgdump
    pg_dump --format=custom --compress=6 --file="$work/$dump"
    revision=$(psql -X -A -t -q -c "SELECT version_num FROM alembic_version")
    server=$(psql -X -A -t -q -c "SHOW server_version")
else
    dump=database.sqlite3
    [ -f "$SQLITE_PATH" ] || { echo "no SQLite database at $SQLITE_PATH" >&2; exit 2; }
    # Online: a consistent copy while the application writes (WAL mode).
    sqlite3 "$SQLITE_PATH" ".backup '$work/$dump'"
    [ "$(sqlite3 "$work/$dump" 'PRAGMA integrity_check')" = ok ] || { echo "the SQLite copy is damaged" >&2; exit 1; }
    revision=$(sqlite3 "$work/$dump" "SELECT version_num FROM alembic_version")
    server="SQLite $(sqlite3 --version | cut -d' ' -f1)"
fi

# The attachments after the database (see above). Photos and PDFs are compressed already.
if [ -d "$ATTACHMENTS_DIR" ]; then
    tar --create --file="$work/attachments.tar" --directory="$ATTACHMENTS_DIR" --exclude='.incoming-*' .
else
    tar --create --file="$work/attachments.tar" --files-from=/dev/null
fi
files=$(tar --list --file="$work/attachments.tar" | grep -c '/[0-9a-f]\{64\}$' || true)

{
    echo "created_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "database=$DB_KIND"
    echo "server=$server"
    echo "migration=$revision"
    echo "dump=$dump"
    echo "attachment_files=$files"
    echo "code=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
} > "$work/MANIFEST"
(cd "$work" && sha256sum "$dump" attachments.tar MANIFEST > SHA256SUMS)

final="$dest/yizhan-$stamp"
mv "$work" "$final"
trap - EXIT
chmod 700 "$final"
echo "backup: $final ($DB_KIND at migration $revision, $(du -sh "$final" | cut -f1), $files attachment file(s))"

if [ -n "${KEEP:-}" ]; then
    ls -1d "$dest"/yizhan-*/ 2>/dev/null | sort -r | tail -n +"$((KEEP + 1))" | while read -r old; do
        rm -rf "$old" && echo "removed old backup ${old%/}"
    done
fi

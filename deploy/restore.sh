#!/bin/bash
# Restore a backup made by deploy/backup.sh into an EMPTY database and the attachments folder,
# then check it: every case's hash chain (`run.py audit verify`) and every attachment file the
# database names.
#
#   deploy/restore.sh [--env /etc/yizhan/yizhan.env] BACKUP_FOLDER
#
# The target is DATABASE_URL and ATTACHMENTS_DIR (environment, or the file given with --env), as
# for the application. PostgreSQL: the database must exist and hold no table (createdb -O yizhan
# yizhan); pg_restore runs in one transaction, so a failed restore leaves it empty. SQLite: the
# file must not exist yet, or hold no table. A restore never writes over data: it refuses, and says why.
# PYTHON names the interpreter for the check (default: .venv/bin/python beside run.py);
# CHECK_HASHES=1 also recomputes every attachment's SHA-256 (slow on a large archive).
set -euo pipefail
. "$(dirname "$0")/_common.sh"
arguments "usage: deploy/restore.sh [--env FILE] BACKUP_FOLDER" "$@"
backup=$(cd "$ARGUMENT" && pwd)

# The backup is whole and unchanged.
(cd "$backup" && sha256sum --check --quiet SHA256SUMS) || { echo "the backup in $backup is damaged or incomplete" >&2; exit 1; }
kind=$(sed -n 's/^database=//p' "$backup/MANIFEST")
dump=$(sed -n 's/^dump=//p' "$backup/MANIFEST")
[ "$kind" = "$DB_KIND" ] || { echo "the backup holds a $kind database; DATABASE_URL names a $DB_KIND one" >&2; exit 2; }

if [ "$DB_KIND" = postgresql ]; then
    tables=$(psql -X -A -t -q -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg_toast%'")
    if [ "$tables" != 0 ]; then
        echo "refused: the database $PGDATABASE is not empty ($tables tables and sequences); restore into a new one (createdb)" >&2
        exit 1
    fi
    # The objects belong to the login that restores (the application's), whoever owned them before.
    pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$PGDATABASE" "$backup/$dump"
    count() { psql -X -A -t -q -c "$1"; }
else
    if [ -s "$SQLITE_PATH" ] && [ "$(sqlite3 "$SQLITE_PATH" 'SELECT count(*) FROM sqlite_master')" != 0 ]; then
        echo "refused: $SQLITE_PATH holds tables; restore into a new file (move the old one away first)" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$SQLITE_PATH")"
    rm -f "$SQLITE_PATH-wal" "$SQLITE_PATH-shm"
    sqlite3 "$SQLITE_PATH" ".restore '$backup/$dump'"
    count() { sqlite3 "$SQLITE_PATH" "$1"; }
fi
echo "database restored: $(count 'SELECT count(*) FROM cases') case(s), $(count 'SELECT count(*) FROM audit_events') audit event(s)"

# The attachments: named by their content, so a file already there is the same file.
mkdir -p "$ATTACHMENTS_DIR"
tar --extract --file="$backup/attachments.tar" --directory="$ATTACHMENTS_DIR" --skip-old-files --no-same-owner

missing=0
checked=0
while read -r sha; do
    [ -n "$sha" ] || continue
    file="$ATTACHMENTS_DIR/${sha:0:2}/$sha"
    checked=$((checked + 1))
    if [ ! -f "$file" ]; then
        echo "missing attachment file: $file" >&2
        missing=$((missing + 1))
    elif [ "${CHECK_HASHES:-0}" = 1 ] && [ "$(sha256sum < "$file" | cut -d' ' -f1)" != "$sha" ]; then
        echo "altered attachment file: $file" >&2
        missing=$((missing + 1))
    fi
done < <(count "SELECT DISTINCT sha256 FROM attachments")
echo "attachments: $checked file(s) named by the database, $missing missing or altered"

python=${PYTHON:-$root/.venv/bin/python}
(cd "$root" && "$python" run.py audit verify)
[ "$missing" = 0 ] || exit 1
echo "restore complete: $backup"

# Shared by deploy/backup.sh and deploy/restore.sh (sourced, not run): their one argument and
# --env option, and where the database and the attachments are, from the same settings the
# application reads (config/settings.py). Sets `root`, the application's folder.
umask 077
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# `arguments USAGE "$@"`: [--env FILE] and one argument, left in ARGUMENT; then locate_data.
arguments() {
    local usage=$1
    shift
    if [ "${1:-}" = --env ]; then
        read_env_file "${2:?--env needs a file}"
        shift 2
    fi
    [ $# = 1 ] || { echo "$usage" >&2; exit 2; }
    ARGUMENT=$1
    locate_data
}

# `--env FILE`: NAME=value lines (the systemd environment file). Only the settings these scripts
# need are taken, the file is never run as shell, and what the environment already says wins.
read_env_file() {
    local file=$1 name value
    [ -r "$file" ] || { echo "cannot read $file" >&2; exit 2; }
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in ''|'#'*) continue ;; esac
        name=${line%%=*}
        value=${line#*=}
        case $name in
            DATABASE_URL|ATTACHMENTS_DIR|YIZHAN_INSTANCE)
                [ -n "${!name:-}" ] || export "$name=$value" ;;
        esac
    done < "$file"
}

# Sets DB_KIND (postgresql or sqlite), SQLITE_PATH, and for PostgreSQL the libpq variables
# (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE...), so that no password is ever on a
# command line (where `ps` would show it). ATTACHMENTS_DIR gets the application's default.
locate_data() {
    local instance=${YIZHAN_INSTANCE:-$root/instance}
    local url=${DATABASE_URL:-sqlite:///$instance/yizhan.db}
    export ATTACHMENTS_DIR=${ATTACHMENTS_DIR:-$instance/attachments}
    case $url in
        sqlite:///*)
            DB_KIND=sqlite
            SQLITE_PATH=${url#sqlite:///}
            # sqlite:///relative/path is relative to the application's folder (where run.py runs).
            case $SQLITE_PATH in /*) ;; *) SQLITE_PATH=$root/$SQLITE_PATH ;; esac ;;
        postgresql://*|postgresql+*://*|postgres://*)
            DB_KIND=postgresql
            eval "$(python3 - "$url" <<'PY'
import shlex, sys
from urllib.parse import parse_qsl, unquote, urlsplit
url = urlsplit(sys.argv[1])
names = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
         "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME"}
values = {"PGHOST": url.hostname or "", "PGPORT": str(url.port or ""), "PGUSER": unquote(url.username or ""),
          "PGPASSWORD": unquote(url.password or ""), "PGDATABASE": unquote(url.path.lstrip("/"))}
for key, value in parse_qsl(url.query):
    if key not in names:
        sys.exit(f"DATABASE_URL: parameter {key!r} is not understood by deploy/backup.sh and restore.sh")
    values[names[key]] = value
if not values["PGDATABASE"]:
    sys.exit("DATABASE_URL names no database")
for key, value in values.items():
    if value:
        print(f"export {key}={shlex.quote(value)}")
PY
            )" || exit 2 ;;
        *)
            echo "DATABASE_URL is neither sqlite:/// nor postgresql://: $url" >&2
            exit 2 ;;
    esac
}

#!/usr/bin/env bash
# Prepares an Odoo 18 database for postmark-bridge, with no manual step and safe to run again:
#   1. creates the database if it does not exist, installs wk_postmark_notification (or upgrades
#      it when the addon on disk is newer than the installed one);
#   2. creates (or reuses) the bridge's Odoo user: an internal user in the addon's bridge group and
#      nothing more, never an administrator;
#   3. gives it a persistent API key, reusing the one already handed over when it still works;
#   4. hands ODOO_URL, ODOO_DB, ODOO_USER and ODOO_API_KEY over: into an environment file (mode
#      0600, other lines kept) or as KEY=value lines on standard output. The key goes nowhere else.
# It drives Odoo through `odoo-bin` and `odoo-bin shell`, so it works the same in the Odoo Docker
# image and against a local source checkout. Run `scripts/odoo-setup.sh --help` for the options.
set -euo pipefail

readonly MODULE=wk_postmark_notification

usage() {
    cat <<'EOF'
Usage: scripts/odoo-setup.sh -d DATABASE [options] [-- odoo options]

How to run Odoo (each option also reads the environment variable shown):
  --odoo-bin PATH      ODOO_BIN          odoo executable (default: `odoo`, else `odoo-bin`, on PATH)
  --python PATH        ODOO_PYTHON       interpreter that runs it (default: run it directly)
  -c, --config FILE    ODOO_CONF         Odoo configuration file
  --addons-path PATHS  ODOO_ADDONS_PATH  addons path; when wk_postmark_notification is not on the
                                         configured one, this repository's odoo_addon/ is added
  -d, --database DB    ODOO_DB           database to prepare (created when missing)
  -- OPTIONS                             passed to every Odoo command, e.g. --db_host=127.0.0.1
                                         --db_port=5432 --db_user=odoo (PG* variables work too)

What to set up:
  --login LOGIN        BRIDGE_ODOO_LOGIN login of the bridge's Odoo user (default: postmark-bridge)
  --url URL            ODOO_URL          URL the bridge reaches Odoo at (default: http://127.0.0.1:8069)
  --env-file FILE                        write the four ODOO_* settings into FILE (mode 0600; its
                                         other lines are kept) and reuse the key already in it
  --key-name NAME                        description of the API key (default: postmark-bridge)
  --rotate                               make a new key even if the handed-over one works
  --no-install                           never install or upgrade the addon
  --verify                               then check the key over JSON-RPC at --url (Odoo must run)
  -v, --verbose                          show Odoo's info log
  -h, --help

A key is "handed over" by --env-file (when its ODOO_DB and ODOO_USER match) or by ODOO_API_KEY in
the environment. When it still authenticates as the bridge's user it is kept; otherwise a new key
is made and the user's earlier keys of the same name are revoked.
Without --env-file the four settings are printed on standard output, and nothing else is.
EOF
}

die() {
    printf 'odoo-setup: error: %s\n' "$*" >&2
    exit 2
}

note() {
    printf 'odoo-setup: %s\n' "$*" >&2
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_addons=$(dirname "$script_dir")/odoo_addon
helper=$script_dir/odoo_setup.py

odoo_bin=${ODOO_BIN:-}
odoo_python=${ODOO_PYTHON:-}
odoo_conf=${ODOO_CONF:-}
addons_path=${ODOO_ADDONS_PATH:-}
database=${ODOO_DB:-}
login=${BRIDGE_ODOO_LOGIN:-postmark-bridge}
url=${ODOO_URL:-http://127.0.0.1:8069}
env_file=
key_name=postmark-bridge
rotate=0
install=1
verify=0
log_level=warn
extra=()

while [[ $# -gt 0 ]]; do
    option=$1
    value=
    if [[ $option == --*=* ]]; then
        value=${option#*=}
        option=${option%%=*}
    fi
    case $option in
        --odoo-bin | --python | -c | --config | --addons-path | -d | --database | --login | --url | --env-file | --key-name)
            if [[ $1 != *=* ]]; then
                [[ $# -ge 2 ]] || die "$option needs a value"
                value=$2
                shift
            fi
            ;;
    esac
    case $option in
        --odoo-bin) odoo_bin=$value ;;
        --python) odoo_python=$value ;;
        -c | --config) odoo_conf=$value ;;
        --addons-path) addons_path=$value ;;
        -d | --database) database=$value ;;
        --login) login=$value ;;
        --url) url=$value ;;
        --env-file) env_file=$value ;;
        --key-name) key_name=$value ;;
        --rotate) rotate=1 ;;
        --no-install) install=0 ;;
        --verify) verify=1 ;;
        -v | --verbose) log_level=info ;;
        -h | --help)
            usage
            exit 0
            ;;
        --)
            shift
            extra=("$@")
            break
            ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

[[ -n $database ]] || die "no database: give -d DATABASE (or ODOO_DB)"
[[ -f $helper ]] || die "$helper is missing"
# These values are written unquoted into environment files read by systemd, Docker and sh.
for setting in "$database" "$login" "$url" "$key_name"; do
    [[ $setting =~ ^[A-Za-z0-9._:/@%+=~-]+$ ]] || die "unsupported character in '$setting'"
done
[[ $url =~ ^https?:// ]] || die "--url must start with http:// or https://"
[[ -z $odoo_conf || -r $odoo_conf ]] || die "cannot read Odoo configuration $odoo_conf"

if [[ -z $odoo_bin ]]; then
    odoo_bin=$(command -v odoo || command -v odoo-bin || true)
    [[ -n $odoo_bin ]] || die "no odoo executable on PATH: give --odoo-bin (and --python)"
fi
odoo_cmd=("$odoo_bin")
if [[ -n $odoo_python ]]; then
    odoo_cmd=("$odoo_python" "$odoo_bin")
fi

work=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/odoo-setup.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run_odoo SUBCOMMAND ARGS...: one Odoo command with the shared options.
run_odoo() {
    local subcommand=$1
    shift
    local args=("$subcommand")
    [[ -n $odoo_conf ]] && args+=("--config=$odoo_conf")
    [[ -n $addons_path ]] && args+=("--addons-path=$addons_path")
    args+=("--log-level=$log_level" "$@" "${extra[@]}")
    "${odoo_cmd[@]}" "${args[@]}"
}

# run_helper ACTION DB_ARGUMENT: runs odoo_setup.py in `odoo shell`; results land in $work/ACTION.
run_helper() {
    local action=$1 db=$2
    rm -f "$work/$action"
    SETUP_ACTION=$action SETUP_DB=$database SETUP_RESULT_FILE=$work/$action \
        run_odoo shell --no-http "--database=$db" <"$helper" >&2 || return $?
    [[ -s $work/$action ]] || die "odoo shell ran but $action gave no result (is this Odoo 18?)"
}

# result FILE NAME: one value from a helper's KEY=value result file.
result() {
    sed -n "s/^$2=//p" "$1" | head -n 1
}

probe() {
    # An empty --database keeps `odoo shell` from opening (or failing on) a database.
    run_helper probe ""
}

probe
if [[ -z $(result "$work/probe" MODULE_PATH) ]]; then
    if [[ -z $addons_path && -f $repo_addons/$MODULE/__manifest__.py ]]; then
        addons_path="$(result "$work/probe" ADDONS_PATH),$repo_addons"
        note "$MODULE is not on Odoo's addons path; adding $repo_addons (give the Odoo server the same)"
        probe
    fi
    [[ -n $(result "$work/probe" MODULE_PATH) ]] ||
        die "$MODULE not found on the addons path $(result "$work/probe" ADDONS_PATH)"
fi

state=$(result "$work/probe" MODULE_STATE)
if [[ $(result "$work/probe" DB_EXISTS) != 1 ]]; then
    action=install
    note "database $database does not exist; creating it"
elif [[ $state == installed && $(result "$work/probe" NEEDS_UPGRADE) == 1 ]]; then
    action=upgrade
elif [[ $state == installed ]]; then
    action=none
elif [[ $state == "to upgrade" ]]; then
    action=upgrade
elif [[ -z $state || $state == uninstalled || $state == "to install" ]]; then
    action=install
else
    die "$MODULE is in state '$state' in $database; resolve that in Odoo first"
fi

if [[ $action != none ]]; then
    flag=-i
    [[ $action == upgrade ]] && flag=-u
    [[ $install == 1 ]] || die "$MODULE needs an $action in $database, and --no-install was given"
    note "running the $action of $MODULE in $database (this takes a minute)"
    run_odoo server "--database=$database" "$flag" "$MODULE" --stop-after-init --no-http \
        --without-demo=all >&2 || die "odoo could not $action $MODULE in $database"
    probe
    [[ $(result "$work/probe" MODULE_STATE) == installed ]] ||
        die "$MODULE is still '$(result "$work/probe" MODULE_STATE)' in $database after the $action; see Odoo's log"
fi
note "$MODULE $(result "$work/probe" INSTALLED_VERSION) is installed in $database"

# The key handed over last time, if it was for this database and user.
offered=
if [[ -n $env_file && -f $env_file ]]; then
    if [[ $(result "$env_file" ODOO_DB) == "$database" && $(result "$env_file" ODOO_USER) == "$login" ]]; then
        offered=$(result "$env_file" ODOO_API_KEY)
    fi
fi
if [[ -z $offered && -n ${ODOO_API_KEY:-} ]]; then
    offered=$ODOO_API_KEY
fi

SETUP_LOGIN=$login SETUP_KEY_NAME=$key_name SETUP_OFFERED_KEY=$offered SETUP_ROTATE=$rotate \
    run_helper configure "$database"
key=$(result "$work/configure" ODOO_API_KEY)
[[ $key =~ ^[0-9a-f]{40}$ ]] || die "the setup did not return an API key"

settings=$(printf 'ODOO_URL=%s\nODOO_DB=%s\nODOO_USER=%s\nODOO_API_KEY=%s\n' "$url" "$database" "$login" "$key")
if [[ -n $env_file ]]; then
    env_dir=$(dirname "$env_file")
    mkdir -p "$env_dir"
    new_file=$(umask 077 && mktemp "$env_dir/.odoo-setup.XXXXXX")
    {
        if [[ -f $env_file ]]; then
            grep -v -E '^[[:space:]]*(export[[:space:]]+)?ODOO_(URL|DB|USER|API_KEY)=' "$env_file" || true
        else
            printf '# The bridge'\''s Odoo connection, written by scripts/odoo-setup.sh. Keep it secret.\n'
        fi
        printf '%s\n' "$settings"
    } >"$new_file"
    chmod 0600 "$new_file"
    mv -f "$new_file" "$env_file"
    note "wrote ODOO_URL, ODOO_DB, ODOO_USER and ODOO_API_KEY to $env_file"
else
    printf '%s\n' "$settings"
fi

if [[ $verify == 1 ]]; then
    printf '%s\n' "$settings" >"$work/verify.env"
    "${odoo_python:-python3}" "$script_dir/odoo_check_key.py" --env-file "$work/verify.env" >&2 ||
        die "the key does not work over JSON-RPC at $url"
fi

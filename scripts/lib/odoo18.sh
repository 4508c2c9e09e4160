# shellcheck shell=bash
# Shared by the scripts that test against a real Odoo 18: finds it and the Python to run it with.
#
#   find_odoo18 HOME    sets odoo_bin (HOME/odoo-bin or HOME/src/odoo-bin), odoo_root (its directory) and python
#                       (ODOO18_PYTHON, else HOME/venv/bin/python, else python3)
#
# Without an odoo-bin under HOME it prints "SKIPPED: ..." and exits 0; when that Python cannot import it as Odoo 18,
# it prints the failure and a closing "0 passed, 1 failed", and exits 1.

find_odoo18() {
    local home=$1 candidate
    odoo_bin=
    for candidate in "$home/odoo-bin" "$home/src/odoo-bin"; do
        if [[ -f $candidate ]]; then
            odoo_bin=$(readlink -f "$candidate")
            break
        fi
    done
    if [[ -z $odoo_bin ]]; then
        echo "SKIPPED: no Odoo 18 at $home (pass its path or set ODOO18_HOME)"
        exit 0
    fi
    odoo_root=$(dirname "$odoo_bin")
    python=${ODOO18_PYTHON:-}
    if [[ -z $python ]]; then
        python=python3
        [[ -x $home/venv/bin/python ]] && python=$home/venv/bin/python
    fi
    if ! "$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import odoo.release as r
assert r.version_info[0] == 18' "$odoo_root" 2>/dev/null; then
        echo "FAIL: $odoo_root is not an Odoo 18 that $python can import"
        echo "0 passed, 1 failed"
        exit 1
    fi
}

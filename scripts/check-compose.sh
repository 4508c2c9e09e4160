#!/usr/bin/env bash
# Validates the deployment files without a Docker engine, for CI and before a commit:
#   - docker-compose.yml parses and is valid (`docker compose config`, or Debian's docker-compose,
#     installed with apt when missing and running as root; a plain YAML parse only as a last resort);
#   - every host path it builds from or mounts exists, and so does every file a container is told
#     to run from such a mount;
#   - every COPY/ADD source of the Dockerfile exists and is not excluded by .dockerignore;
#   - deploy/postmark-bridge.env.example names only variables the bridge reads, names all of them,
#     each under a comment, and the bridge service in docker-compose.yml sets no unknown variable;
#   - the systemd unit passes `systemd-analyze verify`, the Python helpers compile, and the shell
#     scripts are shellcheck-clean (each when the tool is there).
# Usage: scripts/check-compose.sh [REPO_DIR]   (CHECK_COMPOSE_NO_INSTALL=1: never run apt-get)
# Ends with "N passed, M failed"; exits 1 when a check failed.
set -uo pipefail

repo=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)
cd "$repo" || exit 2
# shellcheck source=scripts/lib/checks.sh
. scripts/lib/checks.sh

skip() {
    printf 'skipped: %s\n' "$1"
}

# apt_install PACKAGE: installs a Debian package when allowed and possible; true when it did.
apt_install() {
    [[ ${CHECK_COMPOSE_NO_INSTALL:-0} != 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
    printf 'installing %s with apt-get\n' "$1"
    if [[ -z ${apt_updated:-} ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || return 1
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1
}

# A Python with PyYAML: Debian's python3-yaml comes with docker-compose.
yaml_python=
find_yaml_python() {
    local candidate
    for candidate in python3 /usr/bin/python3; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import yaml' 2>/dev/null; then
            yaml_python=$candidate
            return 0
        fi
    done
    return 1
}

# 1. The compose file is valid.
compose=()
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null || apt_install docker-compose; then
    compose=(docker-compose)
fi
if [[ ${#compose[@]} -gt 0 ]]; then
    # Interpolation must not depend on the caller's environment or .env.
    if output=$(env -u POSTGRES_PASSWORD -u BRIDGE_DB_PASSWORD -u ODOO_DB -u BRIDGE_PUBLIC_URL \
        "${compose[@]}" --project-directory "$repo" -f docker-compose.yml config -q 2>&1); then
        pass "docker-compose.yml is valid (${compose[*]} config)"
    else
        fail "docker-compose.yml is invalid (${compose[*]} config)" "$output"
    fi
elif find_yaml_python || apt_install python3-yaml && find_yaml_python; then
    if output=$("$yaml_python" -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' docker-compose.yml 2>&1); then
        pass "docker-compose.yml parses as YAML (no docker compose or docker-compose here: schema not checked)"
    else
        fail "docker-compose.yml does not parse as YAML" "$output"
    fi
else
    fail "no docker compose, docker-compose or PyYAML to read docker-compose.yml with"
fi

# 2-4. Paths, Dockerfile sources and variables, read with Python.
if [[ -n $yaml_python ]] || find_yaml_python; then
    report=$("$yaml_python" - "$repo" <<'PY'
import fnmatch
import json
import os
import re
import shlex
import sys

import yaml

repo = sys.argv[1]
results = []


def check(ok, label, detail=""):
    results.append(("ok" if ok else "FAIL", label, detail))


def host(path):
    return os.path.normpath(os.path.join(repo, path))


compose = yaml.safe_load(open(os.path.join(repo, "docker-compose.yml")))
services = compose.get("services", {})

# Host paths: build contexts, Dockerfiles, bind mounts, env files.
for name, service in services.items():
    build = service.get("build")
    if build is not None:
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        check(os.path.isdir(host(context)), f"{name}: build context {context} exists")
        check(os.path.isfile(os.path.join(host(context), dockerfile)), f"{name}: {dockerfile} exists")
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            source, target = parts[0], (parts[1] if len(parts) > 1 else parts[0])
            if source.startswith((".", "/", "~")):
                mounts.append((source, target))
        elif volume.get("type") == "bind":
            mounts.append((volume["source"], volume["target"]))
    for source, target in mounts:
        check(os.path.exists(host(source)), f"{name}: mounted host path {source} exists")
    env_files = service.get("env_file", [])
    for env_file in [env_files] if isinstance(env_files, str) else env_files:
        check(os.path.isfile(host(env_file)), f"{name}: env_file {env_file} exists")
    # Container paths under a bind mount that the service runs or is pointed at must exist on the host.
    words = []
    for key in ("entrypoint", "command"):
        value = service.get(key) or []
        words += shlex.split(value) if isinstance(value, str) else [str(w) for w in value]
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment if "=" in item)
    words += [str(v) for v in environment.values() if v is not None]
    for word in words:
        for source, target in mounts:
            if word == target or word.startswith(target.rstrip("/") + "/"):
                mapped = host(source) + word[len(target.rstrip("/")):]
                check(os.path.exists(mapped), f"{name}: {word} (from {source}) exists")

# The addon that Odoo mounts must be there.
check(os.path.isfile(host("odoo_addon/wk_postmark_notification/__manifest__.py")),
      "odoo_addon/wk_postmark_notification/__manifest__.py exists (the addon Odoo installs)")

# Dockerfile COPY/ADD sources, against .dockerignore.
ignore = []
if os.path.isfile(host(".dockerignore")):
    for line in open(host(".dockerignore")):
        line = line.strip()
        if line and not line.startswith("#"):
            ignore.append((line.startswith("!"), line.lstrip("!").strip("/")))


def ignored(path):
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.strip("/").split("/")
    excluded = False
    for negated, pattern in ignore:
        if any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


text = re.sub(r"\\\n", " ", open(host("Dockerfile")).read())
stages = set()
for line in text.splitlines():
    line = line.strip()
    stage = re.match(r"(?i)^FROM\s+\S+\s+AS\s+(\S+)", line)
    if stage:
        stages.add(stage.group(1).lower())
    instruction = re.match(r"(?i)^(COPY|ADD)\s+(.*)$", line)
    if not instruction:
        continue
    rest = instruction.group(2).strip()
    args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    flags = [a for a in args if a.startswith("--")]
    paths = [a for a in args if not a.startswith("--")]
    source_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
    if source_stage:
        check(source_stage.lower() in stages, f"Dockerfile: COPY --from={source_stage} names an earlier stage")
        continue
    for source in paths[:-1]:
        check(os.path.exists(host(source)), f"Dockerfile: {instruction.group(1)} source {source} exists")
        check(not ignored(source), f"Dockerfile: {source} is not excluded by .dockerignore")

# Variables: the bridge reads those listed in BridgeConfiguration.variables (DESIGN's table, plus
# tuning knobs); the container entrypoint adds BRIDGE_ENV_FILE.
swift = host("Sources/PostmarkBridge/Configuration/BridgeConfiguration.swift")
known = set()
if os.path.isfile(swift):
    match = re.search(r"static let variables\s*=\s*\[(.*?)\]", open(swift).read(), re.S)
    if match:
        known = set(re.findall(r'"([A-Z][A-Z0-9_]*)"', match.group(1)))
design = {"BRIDGE_DATABASE_URL", "ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_API_KEY", "BRIDGE_LISTEN",
          "BRIDGE_PUBLIC_URL", "BRIDGE_SERVERS_FILE", "POSTMARK_API_URL", "LOG_LEVEL", "LOG_FORMAT"}
check(design <= known, "BridgeConfiguration.variables lists every variable of DESIGN's table",
      ", ".join(sorted(design - known)))
known |= design
container_only = {"BRIDGE_ENV_FILE"}

example = host("deploy/postmark-bridge.env.example")
lines = open(example).read().splitlines()
named = {}
for index, line in enumerate(lines):
    match = re.match(r"^#?([A-Z][A-Z0-9_]*)=", line)
    if match:
        named[match.group(1)] = index
unknown = sorted(set(named) - known)
check(not unknown, "env example names only variables the bridge reads", ", ".join(unknown))
missing = sorted(known - set(named))
check(not missing, "env example names every variable the bridge reads", ", ".join(missing))


def commented(index):
    """True when a comment line that is not itself a commented-out variable precedes the variable."""
    for previous in reversed(lines[:index]):
        if re.match(r"^#?[A-Z][A-Z0-9_]*=", previous):
            continue
        return previous.startswith("#") and previous.strip() != "#"
    return False


uncommented = sorted(name for name, index in named.items() if not commented(index))
check(not uncommented, "every variable of the env example is explained by a comment", ", ".join(uncommented))

for name, service in services.items():
    if service.get("build") is None:
        continue
    environment = service.get("environment") or {}
    names = environment.keys() if isinstance(environment, dict) else [e.split("=", 1)[0] for e in environment]
    strange = sorted(set(names) - known - container_only)
    check(not strange, f"{name}: sets only variables the bridge reads", ", ".join(strange))

for status, label, detail in results:
    print(f"{status}\t{label}\t{detail}")
PY
    )
    status=$?
    if [[ $status -ne 0 ]]; then
        fail "the structural checks could not run" "$report"
    else
        while IFS=$'\t' read -r result label detail; do
            if [[ $result == ok ]]; then
                pass "$label"
            else
                fail "$label" "$detail"
            fi
        done <<<"$report"
    fi
else
    fail "no Python with PyYAML: paths, Dockerfile sources and variables not checked"
fi

# 5. The systemd unit (its binary is not installed here, which is the one complaint to expect).
if command -v systemd-analyze >/dev/null; then
    output=$(systemd-analyze verify deploy/postmark-bridge.service 2>&1)
    complaints=$(grep -v 'postmark-bridge is not executable' <<<"$output" || true)
    if [[ -n $complaints ]]; then
        fail "deploy/postmark-bridge.service does not pass systemd-analyze verify" "$complaints"
    else
        pass "deploy/postmark-bridge.service passes systemd-analyze verify"
    fi
else
    skip "systemd-analyze not installed: the unit file is not verified"
fi

# 6. Python helpers compile; shell scripts are shellcheck-clean.
for file in scripts/odoo_setup.py scripts/odoo_check_key.py; do
    if output=$(python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$file" 2>&1); then
        pass "$file parses"
    else
        fail "$file does not parse" "$output"
    fi
done
# The scripts of the deployment (other scripts of the repository are linted by their own checks).
shell_scripts=(scripts/odoo-setup.sh scripts/test-setup.sh scripts/check-compose.sh deploy/docker/*.sh)
if command -v shellcheck >/dev/null || apt_install shellcheck; then
    for file in "${shell_scripts[@]}"; do
        if output=$(shellcheck -x "$file" 2>&1); then
            pass "$file is shellcheck-clean"
        else
            fail "$file has shellcheck findings" "$output"
        fi
    done
else
    skip "shellcheck not installed: ${shell_scripts[*]} not linted"
fi

checks_summary

#!/usr/bin/env bash
# Installs the Debian packages the bridge and its tests need, when they are missing.
# Usage: scripts/install-deps.sh            (needs root, or sudo, on Debian/Ubuntu)
set -euo pipefail

packages=(libpq-dev postgresql python3 curl)
[ "${WITH_BENCHMARK_TOOLS:-0}" = 1 ] && packages+=(wrk nginx-light)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

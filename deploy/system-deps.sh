#!/usr/bin/env bash
# Install the system tools the tests use, from Debian's packages, where absent:
# prometheus (with promtool), prometheus-alertmanager (with amtool), kcat, and chromium
# with its chromedriver (the desk's browser test). Java and Maven are checked by
# deploy/kafka/kafka.sh.
set -euo pipefail

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v kcat >/dev/null || missing+=(kcat)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "system-deps: need root to install ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "system-deps: installing ${missing[*]} from Debian's packages"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a prometheus service on install where an init system runs; we start our own.
$SUDO systemctl stop prometheus prometheus-alertmanager 2>/dev/null || true

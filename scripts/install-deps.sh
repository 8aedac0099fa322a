#!/bin/sh
# Installs the Debian 12 packages that building, running and testing the
# vault need, if any is missing. Safe to run again: it does nothing when
# everything is there.
set -eu

PACKAGES="build-essential cmake pkg-config
libsodium-dev libsqlite3-dev libmicrohttpd-dev libssl-dev zlib1g-dev
libjansson-dev libarchive-dev libcurl4-openssl-dev
python3 python3-nacl sqlite3 strace valgrind curl"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

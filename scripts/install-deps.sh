#!/bin/sh
# Installs the Debian 12 packages that building, running and testing the
# vault need, if any is missing, and the browser tests' npm packages
# (pinned in tests/web/package-lock.json) when they are missing or the
# lock changed. Safe to run again: it does nothing when everything is there.
# The browser is Debian's chromium: nothing here downloads a browser.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake pkg-config
libsodium-dev libsqlite3-dev libmicrohttpd-dev libssl-dev zlib1g-dev
libjansson-dev libarchive-dev libcurl4-openssl-dev
python3 python3-nacl sqlite3 strace valgrind curl chromium
clang libclang-rt-14-dev"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# node and npm: Debian's, unless some node is already there (a node from
# elsewhere ships its own npm, which Debian's npm package would fight)
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# playwright-core and axe-core for the browser tests, from the lock file
lock=tests/web/package-lock.json
stamp=tests/web/node_modules/.lock-sha256
want="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	echo "install-deps: npm ci in tests/web" >&2
	(cd tests/web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	echo "$want" > "$stamp"
fi

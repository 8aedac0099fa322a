#!/bin/sh
# The README's first command: install what is missing, build, and start
# vaultd on its embedded default (./var/vault, 127.0.0.1:8080). On the first
# start it prints the administrator's generated secret once. The pages of
# web/ are served under / (vaultd's --web-dir, default web, from here).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target vaultd vaultctl >/dev/null
if [ $# -eq 0 ]; then echo "start: once vaultd says 'listening', open http://127.0.0.1:8080/ in a browser" >&2; fi
exec build/vaultd "$@"

#!/bin/sh
# The README's first command: install what is missing, build, and start
# vaultd on its embedded default (./var/vault, 127.0.0.1:8080). On the first
# start it prints the administrator's generated secret once.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target vaultd vaultctl >/dev/null
exec build/vaultd "$@"

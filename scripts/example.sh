#!/usr/bin/env bash
# README's first command: set up a fresh Debian 12 machine, build, and print
# the report of the bundled example core (the classic cached_property __del__
# leak, 5 calls: gc.garbage holds 5 MyApiClient). Pass --json for JSON.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh >/dev/null
bash scripts/build.sh
mkdir -p build/example
core=build/example/cached_property_5.core
if [ ! -s "$core" ] || [ fixtures/example/cached_property_5.core.xz -nt "$core" ]; then
  xz -dc fixtures/example/cached_property_5.core.xz > "$core.tmp"
  mv "$core.tmp" "$core"
fi
exec build/pycore-garbage "$@" "$core"

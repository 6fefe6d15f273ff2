#!/usr/bin/env bash
# README's first command: set up a fresh Debian 12 machine, build, and print
# the report of the bundled example core (the classic cached_property __del__
# leak, 5 calls: gc.garbage holds 5 MyApiClient). Pass --json for JSON.
# Set-up and build keep their output in build/setup.log and build/build.log;
# a step that fails is named, with the end of its log.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mkdir -p build/example

step() { # name, log, command...: runs the command with its output in log
  local name=$1 log=$2 rc=0
  shift 2
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    echo "example.sh: step '$name' failed (exit $rc); the end of $log:" >&2
    tail -n 30 "$log" | sed 's/^/  | /' >&2
    exit 1
  fi
}
step "setup (scripts/setup.sh)" build/setup.log bash scripts/setup.sh
step "build (scripts/build.sh)" build/build.log bash scripts/build.sh
core=build/example/cached_property_5.core
if [ ! -s "$core" ] || [ fixtures/example/cached_property_5.core.xz -nt "$core" ]; then
  # shellcheck disable=SC2016 # $1 is the inner shell's
  step "unpack the example core" build/example/unpack.log \
    sh -c 'xz -dc fixtures/example/cached_property_5.core.xz > "$1.tmp" && mv "$1.tmp" "$1"' sh "$core"
fi
exec build/pycore-garbage "$@" "$core"

#!/usr/bin/env bash
# Builds pycore-garbage: build/ (release) and, with --sanitize, build-asan/
# (ASan+UBSan, any report fails) and build-clang/ (clang -Werror, compile only).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cores="$root/build/cores"
setup() { # dir, args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dcores_dir="$cores" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}
setup build --buildtype=release
if [ "${1:-}" = --sanitize ]; then
  setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
  CC=clang setup build-clang --buildtype=release
fi

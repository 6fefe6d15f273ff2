#!/usr/bin/env bash
# Builds pycore-garbage: build/ (release) and, with --sanitize, build-asan/
# (ASan+UBSan, any report fails) and build-clang/ (clang, compile only).
# Warnings are errors (-Dwerror=true) only when PYCORE_WERROR=1, as .ci/run
# sets it: a user's newer compiler may warn where CI's does not. An existing
# build dir is reconfigured when its werror differs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cores="$root/build/cores"
werror=false
if [ "${PYCORE_WERROR:-0}" = 1 ]; then werror=true; fi
current_werror() { # dir: the werror value the build dir was configured with
  python3 -c 'import json, sys
print(str(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "werror")).lower())' \
    "$1/meson-info/intro-buildoptions.json" 2>/dev/null || echo unknown
}
setup() { # dir, args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dcores_dir="$cores" -Dwerror="$werror" "$@" >/dev/null
  elif [ "$(current_werror "$dir")" != "$werror" ]; then
    meson configure "$dir" -Dwerror="$werror" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
}
setup build --buildtype=release
if [ "${1:-}" = --sanitize ]; then
  setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
  CC=clang setup build-clang --buildtype=release
fi

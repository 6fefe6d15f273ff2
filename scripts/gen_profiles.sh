#!/usr/bin/env bash
# gen_profiles.sh BUILD_DIR: regenerates analyzer/lib/py27/profiles.c (the
# built-in layout profiles) from the DWARF of the installed python2.7 (its
# debug file, from python2.7-dbg's /usr/lib/debug) and python2.7-dbg (its
# DWARF is in the executable), with the lib-dynload extension modules whose
# traverse handlers are emulated.  Test profile-* (fixtures/test_profiles.py)
# holds the result against the same DWARF.
set -euo pipefail
build=${1:?usage: gen_profiles.sh BUILD_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
files=$(python3 "$here/fixtures/test_profiles.py" --files)
ninja -C "$build" analyzer/tests/profiles >/dev/null
# shellcheck disable=SC2086
"$build/analyzer/tests/profiles" dump $files > "$here/analyzer/lib/py27/profiles.c.new"
mv "$here/analyzer/lib/py27/profiles.c.new" "$here/analyzer/lib/py27/profiles.c"
echo "wrote analyzer/lib/py27/profiles.c"

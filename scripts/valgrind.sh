#!/usr/bin/env bash
# Runs pycore-garbage under valgrind memcheck and says clean or unclean.
#
#   scripts/valgrind.sh                 meson test suites 'scenarios errors' with the tool under valgrind
#   scripts/valgrind.sh --suite damage  other suites (any meson test arguments are passed on)
#   scripts/valgrind.sh --quick         just the tool on a few fixture cores (a few minutes)
#
# Builds build-valgrind/ (plain debug build, no sanitizers: valgrind and ASan
# do not mix). In suite mode, `meson test --wrapper` is given
# scripts/valgrind-wrap.sh, which swaps the test's `--tool PATH` for a shim that
# runs the tool under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
# so that only the analyzer runs under memcheck, not the Python test drivers.
# Every valgrind log goes to build-valgrind/valgrind-logs/; the verdict comes
# from those logs (errors, definite/indirect leaks), whatever the tests
# themselves concluded. Exit 0 clean, 1 unclean or a test failed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)" >&2; exit 2; }

if [ ! -f build-valgrind/build.ninja ]; then
  meson setup build-valgrind --buildtype=debug -Dcores_dir="$root/build/cores" >/dev/null || exit 1
fi
ninja -C build-valgrind >/dev/null || { echo "valgrind: build failed" >&2; exit 1; }
tool=$root/build-valgrind/pycore-garbage
logs=$root/build-valgrind/valgrind-logs
rm -rf "$logs"
mkdir -p "$logs"
export PG_VALGRIND_LOGS=$logs
export PG_TIMEOUT_MULTIPLIER=${PG_TIMEOUT_MULTIPLIER:-10}   # test_damage.py's hang limit, 60 s x this
vg=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30)

status=0
if [ "${1:-}" = --quick ]; then
  cores=$root/build/cores
  mkdir -p "$cores"
  for spec in cached_property_5:kernel:release cached_property_5:gcore:release cached_property_5:kernel:dbg \
              cached_property_5000:kernel:release oldstyle:kernel:release generators:gcore:release; do
    IFS=: read -r s m i <<<"$spec"
    if ! fixtures/make_core.sh "$s" "$m" "$i" "$cores" >/dev/null 2>&1; then
      echo "skip: no $s-$m-$i core"
      continue
    fi
    core=$cores/$s-$m-$i.core
    for args in "--json" "" "--json --object 0x1"; do
      # shellcheck disable=SC2086
      "${vg[@]}" --log-file="$logs/$s-$m-$i${args// /_}.%p.log" "$tool" $args "$core" >/dev/null 2>&1
      rc=$?
      echo "$s-$m-$i ${args:-text}: exit $rc"
    done
  done
else
  [ $# -gt 0 ] || set -- --suite scenarios --suite errors
  # shellcheck disable=SC2086
  meson test -C build-valgrind --wrapper "$root/scripts/valgrind-wrap.sh" \
    --timeout-multiplier 10 --num-processes "$(nproc 2>/dev/null || echo 2)" --print-errorlogs "$@" \
    || status=1
fi

# The verdict, from the logs.
python3 - "$logs" <<'PY' || status=1
import os, re, sys
d = sys.argv[1]
runs = unclean = 0
for name in sorted(os.listdir(d)):
    text = open(os.path.join(d, name), errors='replace').read()
    runs += 1
    errs = re.search(r'ERROR SUMMARY: (\d+) errors', text)
    leaks = [(k, int(v.replace(',', ''))) for k, v in
             re.findall(r'(definitely|indirectly) lost: ([\d,]+) bytes', text)]
    bad = (errs and int(errs.group(1))) or any(v for k, v in leaks)
    if not errs:
        unclean += 1   # killed before valgrind's summary: a timeout or a signal
        cmd = re.search(r'Command: (.*)', text)
        print('UNCLEAN: %s: no summary, killed (a test timeout?): %s' % (name, cmd.group(1) if cmd else '?'))
        continue
    if bad:
        unclean += 1
        print('UNCLEAN: %s (%s errors; %s)' % (name, errs.group(1),
              ', '.join('%s lost %d B' % kv for kv in leaks) or 'no leak'))
        first = re.search(r'^==\d+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|\d+ bytes).*?(?=^==\d+== $)',
                          text, re.M | re.S)
        if first:
            print('\n'.join('    ' + l for l in first.group(0).splitlines()[:25]))
print('valgrind: %d tool runs, %d unclean: %s' % (runs, unclean, 'CLEAN' if runs and not unclean else
      ('UNCLEAN' if unclean else 'no run')))
sys.exit(1 if unclean or not runs else 0)
PY
exit $status

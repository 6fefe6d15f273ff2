#!/usr/bin/env bash
# Set-up, build (release, ASan+UBSan, clang) and run every test twice: with the
# release build and with the sanitizer build. Test cores are made once, at test
# time, in build/cores (never in git). Ends with 'N passed, N failed'.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/build.sh --sanitize || { echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
jobs=$(nproc 2>/dev/null || echo 2)
meson test -C build --num-processes "$jobs" --print-errorlogs "$@" || true
meson test -C build-asan --num-processes "$jobs" --print-errorlogs "$@" || true

# A short libFuzzer run over the whole pipeline (ASan+UBSan): one more test.
fuzz=skip
if [ $# -eq 0 ]; then
  if bash scripts/fuzz.sh --smoke > build/fuzz-smoke.log 2>&1; then
    fuzz=pass
  else
    fuzz=fail
    tail -30 build/fuzz-smoke.log
  fi
  tail -4 build/fuzz-smoke.log
fi
export FUZZ_RESULT=$fuzz

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    label = 'sanitizer' if 'asan' in path else 'release'
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print('no test log %s' % path)
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        r = t.get('result')
        if r in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif r == 'SKIP':
            skipped += 1
        else:
            failed += 1
            print('FAILED (%s): %s [%s]' % (label, t.get('name'), r))
import os
fr = os.environ.get('FUZZ_RESULT')
if fr == 'pass':
    passed += 1
elif fr == 'fail':
    failed += 1
    print('FAILED: fuzz smoke run (build/fuzz-smoke.log)')
print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
sys.exit(1 if failed or not passed else 0)
PY

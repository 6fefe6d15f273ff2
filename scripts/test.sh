#!/usr/bin/env bash
# Set-up, build (release, ASan+UBSan, clang) and run every test twice: with the
# release build and with the sanitizer build. Test cores are made once, at test
# time, in build/cores (never in git). Ends with 'N passed, N failed, N skipped'.
# Every step keeps its output in build/: setup.log, build.log, test-release.log,
# test-sanitizer.log, fuzz-smoke.log. A step that fails is named, with the end
# of its log. A meson test run that exits non-zero with no failed test in its
# JSON log (meson itself failed, a test did not build) counts as one failure.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
mkdir -p build

step_failed() { # step, exit status, log
  echo "FAILED step: $1 (exit $2); the end of $3:"
  tail -n 30 "$3" | sed 's/^/  | /'
}

bash scripts/setup.sh >build/setup.log 2>&1
rc=$?
grep '^setup: ' build/setup.log
if [ "$rc" != 0 ]; then
  step_failed "setup (scripts/setup.sh)" "$rc" build/setup.log
  echo "0 passed, 1 failed"
  exit 1
fi
bash scripts/build.sh --sanitize >build/build.log 2>&1
rc=$?
if [ "$rc" != 0 ]; then
  step_failed "build (scripts/build.sh --sanitize)" "$rc" build/build.log
  echo "0 passed, 1 failed"
  exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
jobs=$(nproc 2>/dev/null || echo 2)
meson_test() { # label, build dir, log, meson test args...
  local label=$1 dir=$2 log=$3 rc
  shift 3
  rm -f "$dir/meson-logs/testlog.json"   # never count an earlier run's results
  meson test -C "$dir" --num-processes "$jobs" --print-errorlogs "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || step_failed "meson test ($label, $dir)" "$rc" "$log"
  return "$rc"
}
meson_test release build build/test-release.log "$@"
export MESON_RC_RELEASE=$?
meson_test sanitizer build-asan build/test-sanitizer.log "$@"
export MESON_RC_SANITIZER=$?

# A short libFuzzer run over the whole pipeline (ASan+UBSan): one more test.
fuzz=skip
if [ $# -eq 0 ]; then
  bash scripts/fuzz.sh --smoke > build/fuzz-smoke.log 2>&1
  rc=$?
  if [ "$rc" = 0 ]; then
    fuzz=pass
  else
    fuzz=fail
    step_failed "fuzz smoke run (scripts/fuzz.sh --smoke)" "$rc" build/fuzz-smoke.log
  fi
  tail -4 build/fuzz-smoke.log
fi
export FUZZ_RESULT=$fuzz

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, os, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    label = 'sanitizer' if 'asan' in path else 'release'
    rc = int(os.environ.get('MESON_RC_' + label.upper(), '0') or 0)
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print('FAILED (%s): no test log %s (meson test exited %d)' % (label, path, rc))
        failed += 1
        continue
    run_failed = 0
    for line in lines:
        t = json.loads(line)
        r = t.get('result')
        if r in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif r == 'SKIP':
            skipped += 1
        else:
            run_failed += 1
            print('FAILED (%s): %s [%s]' % (label, t.get('name'), r))
    failed += run_failed
    if rc != 0 and run_failed == 0:
        # meson's own failure (a build error, a crash, a bad argument): its
        # exit status is not ignored even when no test is marked failed.
        print('FAILED (%s): meson test exited %d without a failed test in %s' % (label, rc, path))
        failed += 1
fr = os.environ.get('FUZZ_RESULT')
if fr == 'pass':
    passed += 1
elif fr == 'fail':
    failed += 1
    print('FAILED: fuzz smoke run (build/fuzz-smoke.log)')
print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
sys.exit(1 if failed or not passed else 0)
PY

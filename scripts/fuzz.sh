#!/usr/bin/env bash
# Fuzzes the whole pipeline with libFuzzer (clang, ASan+UBSan):
#   fuzz_core   mutated core bytes            -> a libpycore session: every analysis, every report, --object
#   fuzz_debug  mutated debug file of python2.7 -> the same, with --sysroot DIR on a fixed core
#   fuzz_nodwarf mutated core bytes, no debug files -> the built-in layout profiles' probe, the same session
#
#   scripts/fuzz.sh [MINUTES]   run both harnesses side by side for MINUTES (default 10)
#   scripts/fuzz.sh --smoke     ~60 s in all, for CI: build, seed, 25 s per harness
#
# Build dir: build-fuzz/ (CC=clang, -Dfuzz=true, -Db_sanitize=address,undefined).
# Seeds: build/fuzz-seeds/{core,debug} (derived from test-time cores made by
#   fixtures/make_core.sh and shrunk by scripts/shrink_core.py; the debug file
#   less the DWARF sections the analyzer does not read; the first core seed also
#   compressed by zstd, lz4, xz, gzip and bzip2, whole and its first 16 KiB).
# Corpus: build/fuzz-corpus/{core,debug}; crashes, leaks, timeouts and OOMs:
#   build/fuzz-crashes/{core,debug}-*.  Logs: build/fuzz-logs/.
# A harness that stops on a finding is restarted until its time is up, so a
# run keeps going after the first crash; every finding is kept.
# Ends with executions, coverage (libFuzzer's cov:/ft:) and findings per
# harness; exit 1 when there was a finding, 2 when libFuzzer is missing.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

smoke=0
minutes=10
case "${1:-}" in
  --smoke) smoke=1 ;;
  '') ;;
  -h|--help) sed -n "2,19p" "$0"; exit 0 ;;
  *) minutes=$1 ;;
esac
if [ "$smoke" = 1 ]; then
  secs=25
else
  secs=$(python3 -c "import sys; print(max(10, int(float(sys.argv[1]) * 60)))" "$minutes") || {
    echo "usage: scripts/fuzz.sh [MINUTES|--smoke]" >&2; exit 2; }
fi

# libFuzzer: Debian ships it in libclang-rt-14-dev (a Recommends of clang, so
# --no-install-recommends set-ups may lack it).
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$check/t.c"
if ! command -v clang >/dev/null || ! clang -fsanitize=fuzzer,address,undefined "$check/t.c" -o "$check/t" 2>"$check/err"; then
  echo "fuzz: clang cannot build a libFuzzer target:" >&2
  sed 's/^/  /' "$check/err" >&2
  echo "fuzz: install clang and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

# Build.
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    --buildtype=debugoptimized -Dcores_dir="$root/build/cores" >/dev/null || exit 1
fi
ninja -C build-fuzz >/dev/null || { echo "fuzz: build failed" >&2; exit 1; }
# Shrinking runs the tool hundreds of times: the release build when it builds.
tool=build-fuzz/pycore-garbage
if [ -f build/build.ninja ] && ninja -C build pycore-garbage >/dev/null 2>&1; then
  tool=build/pycore-garbage
fi

seeds=build/fuzz-seeds
corpus=build/fuzz-corpus
crashes=build/fuzz-crashes
logs=build/fuzz-logs
mkdir -p "$seeds/core" "$seeds/debug" "$seeds/nodwarf" "$corpus/core" "$corpus/debug" "$corpus/nodwarf" "$crashes" "$logs" build/cores

# Core seeds: small test-time cores, shrunk (whole segments in smoke mode, runs
# of pages too otherwise). Kernel cores first; gcore where the machine pipes
# kernel cores elsewhere (make_core.sh exits 77).
if [ "$smoke" = 1 ]; then
  scenarios=(cached_property_5)
else
  scenarios=(cached_property_5 oldstyle generators collectable_cycles)
fi
fixed_core=""
for s in "${scenarios[@]}"; do
  core=""
  for mode in kernel gcore; do
    if fixtures/make_core.sh "$s" "$mode" release build/cores >/dev/null 2>&1; then
      core=build/cores/$s-$mode-release.core
      break
    fi
  done
  if [ -z "$core" ]; then
    echo "fuzz: cannot make a core of $s (see build/cores/$s-*.log); skipped" >&2
    continue
  fi
  out=$seeds/core/$(basename "$core" .core).shrunk.core
  if [ ! -s "$out" ] || [ "$core" -nt "$out" ]; then
    if [ "$smoke" = 1 ]; then
      python3 scripts/shrink_core.py --tool "$tool" --budget 60 "$core" "$out.tmp" && mv "$out.tmp" "$out"
    else
      python3 scripts/shrink_core.py --tool "$tool" --pages --budget 120 "$core" "$out.tmp" && mv "$out.tmp" "$out"
    fi
    [ -s "$out" ] || cp "$core" "$out"
  fi
  [ -n "$fixed_core" ] || fixed_core=$(pwd)/$out
done
if [ -z "$fixed_core" ]; then
  echo "fuzz: no seed core could be made" >&2
  exit 1
fi
# Compressed seeds (analyzer/lib/elf/decompress.c reads them by their magic): the
# first seed core and its first 16 KiB, by each tool that is installed.
for z in "zstd -q -c:zst" "lz4 -q -c:lz4" "xz -q -c -3:xz" "gzip -c:gz" "bzip2 -c:bz2"; do
  tool_cmd=${z%%:*} ext=${z##*:}
  command -v "${tool_cmd%% *}" >/dev/null || continue
  for part in whole head; do
    zs=$seeds/core/$(basename "$fixed_core" .core).$part.$ext
    [ -s "$zs" ] && [ "$zs" -nt "$fixed_core" ] && continue
    if [ "$part" = whole ]; then $tool_cmd <"$fixed_core" >"$zs.tmp"; else head -c 16384 "$fixed_core" | $tool_cmd >"$zs.tmp"; fi \
      && mv "$zs.tmp" "$zs" || rm -f "$zs.tmp"
  done
done

# Debug-file seed: the interpreter's debug file less the sections the
# analyzer does not read (line tables, location lists, ranges).
build_id=754738eb8d1224641f03c1d7765c4571d3919389
dbg=/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug
dseed=$seeds/debug/python2.7.debug.small
if [ ! -s "$dseed" ]; then
  if [ ! -r "$dbg" ]; then
    echo "fuzz: $dbg missing (apt-get install python2.7-dbg)" >&2
    exit 1
  fi
  objcopy --remove-section=.debug_line --remove-section=.debug_loc --remove-section=.debug_ranges \
    --remove-section=.debug_aranges --remove-section=.comment "$dbg" "$dseed.tmp" 2>/dev/null \
    && mv "$dseed.tmp" "$dseed" || cp "$dbg" "$dseed"
fi

# the no-DWARF harness starts from the same cores
for f in "$seeds"/core/*; do
  [ -f "$f" ] && { [ -f "$seeds/nodwarf/${f##*/}" ] && [ "$seeds/nodwarf/${f##*/}" -nt "$f" ] || cp "$f" "$seeds/nodwarf/"; }
done

maxlen() { # largest file in the given dirs, plus room to grow
  find "$@" -type f -printf '%s\n' 2>/dev/null | sort -n | tail -1 | awk '{print $1 + 65536}'
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# compressed inputs are decoded into $TMPDIR: in memory, and never past 256 MiB
# (a mutated run-length block can decode to gigabytes)
if [ -d /dev/shm ]; then
  export TMPDIR=${PYCORE_FUZZ_TMPDIR:-/dev/shm}
fi
export PYCORE_MAX_DECODED=${PYCORE_MAX_DECODED:-268435456}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# run_harness NAME SECONDS: libFuzzer, restarted after each finding until the time is up.
run_harness() {
  local name=$1 total=$2 bin=build-fuzz/analyzer/fuzz/fuzz_$1
  local log=$logs/$name.log end=$(( $(date +%s) + total )) n=0
  : >"$log"
  local ml
  ml=$(maxlen "$seeds/$name" "$corpus/$name")
  while :; do
    local left=$(( end - $(date +%s) ))
    [ "$left" -ge 5 ] || break
    n=$((n + 1))
    [ "$n" -le 50 ] || break
    echo "=== run $n, $left s" >>"$log"
    PG_FUZZ_CORE=$fixed_core "$bin" -max_total_time="$left" -timeout=60 -rss_limit_mb=4096 \
      -max_len="$ml" -len_control=0 -close_fd_mask=2 -print_final_stats=1 \
      -artifact_prefix="$crashes/$name-" "$corpus/$name" "$seeds/$name" >>"$log" 2>&1
  done
}

before=$(ls "$crashes" | wc -l)
echo "fuzz: $secs s per harness, all three at once; logs in $logs/"
run_harness core "$secs" &
pid_core=$!
run_harness debug "$secs" &
pid_debug=$!
run_harness nodwarf "$secs" &
pid_nodwarf=$!
wait "$pid_core" "$pid_debug" "$pid_nodwarf"

summary() { # name
  python3 - "$logs/$1.log" "$1" <<'PY'
import re, sys
path, name = sys.argv[1], sys.argv[2]
text = open(path, errors='replace').read()
runs = secs = 0
cov = ft = 0
corp = '?'
parts = re.split(r'^=== run \d+, \d+ s$', text, flags=re.M)[1:]
for part in parts:
    st = re.search(r'stat::number_of_executed_units:\s*(\d+)', part)
    lines = re.findall(r'^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+)', part, re.M)
    runs += int(st.group(1)) if st else max((int(l[0]) for l in lines), default=0)
    t = re.search(r'Done \d+ runs in (\d+) second', part)
    if t:
        secs += int(t.group(1))
    for l in lines:
        cov, ft = max(cov, int(l[1])), max(ft, int(l[2]))
        corp = '%s inputs (%s)' % (l[3], l[4])
finds = len(re.findall(r'^(?:artifact_prefix=.*)?Test unit written to', text, re.M))
print('fuzz_%s: %d executions, cov: %d ft: %d, corpus %s, findings %d, libFuzzer runs %d'
      % (name, runs, cov, ft, corp, finds, len(parts)))
PY
}
summary core
summary debug
summary nodwarf
after=$(ls "$crashes" | wc -l)
if [ "$after" -gt "$before" ]; then
  echo "fuzz: $((after - before)) new finding(s) in $crashes/:"
  ls -t "$crashes" | head -n $((after - before)) | sed 's/^/  /'
  echo "fuzz: reproduce with build-fuzz/analyzer/fuzz/fuzz_core FILE (PG_FUZZ_CORE=$fixed_core for fuzz_debug)"
  exit 1
fi
echo "fuzz: no finding"

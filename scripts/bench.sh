#!/usr/bin/env bash
# bench.sh [N...] - benchmark pycore-garbage against the floor (a bare gc-list
# walk) on big cores of a Python 2.7 process. Default N: 1000000 (5000000 is
# the other size we track). Idempotent: cores are made once and reused.
#
# For each N:
#  1. core: ${PYCORE_BENCH:-build/bench}/bench_N.core + bench_N.json (the
#     meta: what the live process counted), made by fixtures/bench_heap.py
#     under /usr/bin/python2.7 and dumped with gcore; reused when both exist,
#     are newer than bench_heap.py and the meta's N/SHUFFLE/SEED match.
#  2. floor: ../shared/bench/limit_walk.c (next to the repo root), built with
#     cc -O2 into the bench dir; if absent, absolute times only.
#  3. tool: build/pycore-garbage; when missing, `meson setup build
#     --buildtype=release` + `ninja -C build`. An existing build dir is not
#     rebuilt (someone may be building in it) unless BENCH_REBUILD=1; a stale
#     binary and a non-release buildtype are warned about. Without a
#     meson.build that defines the target: floor only.
#  4. page cache warmed (core read once, one untimed run of each command), then
#     ROUNDS rounds alternating: floor `limit_walk CORE`, tool
#     `pycore-garbage --json $PYCORE_ARGS CORE > out_N.json` [, tool with
#     $BENCH_COMPARE_ARGS instead of $PYCORE_ARGS > out_N.compare.json].
#     Each run: wall time, and memory sampled from /proc/PID/status every
#     ~2 ms. "Peak private" = max RssAnon: anonymous memory only (heap, stacks,
#     written private pages). The core and the ELF files are file-backed
#     read-only mappings whose pages are shared with the page cache, so they
#     are not counted; VmHWM (peak RSS, file pages included) is shown too.
#  5. report: per-round times, medians, tool/floor ratio (median of the
#     per-round ratios), peak private vs the budget 64 MiB + 16 B x tracked
#     objects, and the totals check of the tool's JSON against the meta
#     (tracked.count, len(garbage), garbage per type, histogram per type).
#
# Exit status: 0 ok; 1 totals mismatch (or the tool failed); 2 setup error.
# Ratio and budget are reported, not enforced.
#
# env:
#   PYCORE_BENCH        bench dir (default build/bench under the repo root)
#   ROUNDS              rounds per N (default 5)
#   PYCORE_ARGS         extra tool arguments (shell words)
#   BENCH_COMPARE_ARGS  if set, a second tool argument set timed alongside
#                       (e.g. --no-cycles); its totals are checked too
#   BENCH_TARGET        ratio target printed in the summary (default 1.5 for
#                       the foundation's report, i.e. --no-collect; 3 when the
#                       output holds the offline collection)
#   PYCORE_TOOL         benchmark this executable instead of building
#                       build/pycore-garbage
#   BENCH_BUILDDIR      build dir under the repo root (default build); made
#                       with --buildtype=release when it does not exist
#   BENCH_REBUILD=1     run ninja on an existing build dir first
#   SHUFFLE, SEED       passed to bench_heap.py (default 1, 1)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
SHARED="$ROOT/../shared/bench"
HEAP="$ROOT/fixtures/bench_heap.py"
PY2=/usr/bin/python2.7
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=$(command -v python3 || true)
ROUNDS=${ROUNDS:-5}
export SHUFFLE=${SHUFFLE:-1} SEED=${SEED:-1}

die() { echo "bench: $*" >&2; exit 2; }
[ -x "$PY2" ] || die "$PY2 not found (scripts/setup.sh installs it)"
[ -n "$PY3" ] || die "python3 not found (the sampler needs it)"
command -v gcore >/dev/null || die "gcore not found (package gdb)"
[ -f "$HEAP" ] || die "$HEAP missing"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

Ns=("$@")
[ ${#Ns[@]} -gt 0 ] || Ns=(1000000)
for n in "${Ns[@]}"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer: $n"
done

BENCH=${PYCORE_BENCH:-$ROOT/build/bench}
mkdir -p "$BENCH"
BENCH=$(cd "$BENCH" && pwd)

# One bench at a time: concurrent runs would share the 2 cores and the cores.
exec 9>"$BENCH/.lock"
if ! flock -n 9; then
  echo "bench: another bench.sh holds $BENCH/.lock; waiting" >&2
  flock 9
fi

heap_pid=
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [ -n "$heap_pid" ]; then kill "$heap_pid" 2>/dev/null || true; fi
  rm -f "$BENCH"/.tmp_* 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# meta_matches META N: the meta was made for this N, SHUFFLE and SEED
meta_matches() {
  "$PY3" - "$1" "$2" <<'EOF'
import json, os, sys
try:
    m = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
ok = (m.get('schema') == 'pycore-garbage-bench-meta/1'
      and m.get('N_target') == int(sys.argv[2])
      and m.get('shuffle') == (os.environ['SHUFFLE'] == '1')
      and m.get('seed') == int(os.environ['SEED']))
sys.exit(0 if ok else 1)
EOF
}

make_core() {  # N -> bench_N.core, bench_N.json
  local n=$1 core="$BENCH/bench_$1.core" meta="$BENCH/bench_$1.json"
  local info="$BENCH/bench_$1.made"
  if [ -f "$core" ] && [ -f "$meta" ] && [ "$core" -nt "$HEAP" ] && [ "$meta" -nt "$HEAP" ] \
     && meta_matches "$meta" "$n"; then
    echo "core: reusing $core ($(stat -c %s "$core") bytes; $(cat "$info" 2>/dev/null || echo 'made earlier'))"
    return
  fi
  rm -f "$core" "$meta" "$info"
  local ready="$BENCH/.tmp_ready_$n" tmeta="$BENCH/.tmp_meta_$n" prefix="$BENCH/.tmp_core_$n"
  rm -f "$ready" "$tmeta" "$prefix".*
  echo "core: making N=$n with $PY2 $HEAP (SHUFFLE=$SHUFFLE SEED=$SEED)"
  local t0 t1 t2
  t0=$(now)
  "$PY2" "$HEAP" "$n" "$tmeta" "$ready" </dev/null &
  heap_pid=$!
  while [ ! -s "$ready" ]; do
    kill -0 "$heap_pid" 2>/dev/null || { wait "$heap_pid" || true; heap_pid=; die "bench_heap.py exited early"; }
    sleep 0.2
  done
  t1=$(now)
  local rss
  rss=$(awk '/^VmRSS/ {print $2, $3}' "/proc/$heap_pid/status")
  if ! gcore -o "$prefix" "$heap_pid" >"$BENCH/.tmp_gcore_$n.log" 2>&1; then
    cat "$BENCH/.tmp_gcore_$n.log" >&2
    die "gcore failed"
  fi
  t2=$(now)
  kill "$heap_pid" 2>/dev/null || true
  wait "$heap_pid" 2>/dev/null || true
  heap_pid=
  [ -s "$prefix.$(cut -d' ' -f1 "$ready")" ] || die "gcore wrote no core"
  mv "$tmeta" "$meta"
  mv "$prefix.$(cut -d' ' -f1 "$ready")" "$core"   # after the meta: core -nt meta
  touch "$core"
  rm -f "$ready" "$BENCH/.tmp_gcore_$n.log"
  echo "made in $(secs "$t0" "$t2") s (heap $(secs "$t0" "$t1") s, gcore $(secs "$t1" "$t2") s), process rss $rss" >"$info"
  echo "core: $core $(stat -c %s "$core") bytes, $(cat "$info")"
}

# --- floor ------------------------------------------------------------------
FLOOR=
if [ -f "$SHARED/limit_walk.c" ]; then
  FLOOR="$BENCH/limit_walk"
  if [ ! -x "$FLOOR" ] || [ "$SHARED/limit_walk.c" -nt "$FLOOR" ]; then
    cc -O2 -o "$FLOOR.tmp" "$SHARED/limit_walk.c" || die "cannot build the floor walker"
    mv "$FLOOR.tmp" "$FLOOR"
  fi
else
  echo "bench: no floor walker at $SHARED/limit_walk.c: absolute times only, no ratio"
fi

# --- tool -------------------------------------------------------------------
TOOL=${PYCORE_TOOL:-}
BUILD="$ROOT/${BENCH_BUILDDIR:-build}"
if [ -z "$TOOL" ]; then
  if [ -f "$ROOT/meson.build" ] && grep -Eq "executable\(\s*'pycore-garbage'" "$ROOT"/meson.build "$ROOT"/*/meson.build 2>/dev/null; then
    if [ ! -f "$BUILD/build.ninja" ]; then
      meson setup "$BUILD" "$ROOT" --buildtype=release || die "meson setup failed"
      ninja -C "$BUILD" || die "build failed"
    elif [ "${BENCH_REBUILD:-0}" = 1 ]; then
      ninja -C "$BUILD" >/dev/null || die "build failed (ninja -C $BUILD)"
    elif [ -x "$BUILD/pycore-garbage" ] && [ -n "$(find "$ROOT/meson.build" "$ROOT/analyzer" \
              -newer "$BUILD/pycore-garbage" \( -name '*.[ch]' -o -name meson.build \) 2>/dev/null | head -n1)" ]; then
      echo "bench: WARNING: sources are newer than $BUILD/pycore-garbage: benchmarking a stale" \
           "binary (ninja -C ${BUILD#"$ROOT"/}, or BENCH_REBUILD=1)"
    fi
    buildtype=$(meson introspect "$BUILD" --buildoptions 2>/dev/null | "$PY3" -c '
import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"), "?"))' || echo "?")
    if [ "$buildtype" != release ]; then
      echo "bench: WARNING: $BUILD has buildtype=$buildtype, not release: numbers are not" \
           "the release numbers (BENCH_BUILDDIR=build-release makes a separate release build)"
    fi
    for c in "$BUILD/pycore-garbage" "$BUILD/analyzer/pycore-garbage"; do
      if [ -x "$c" ]; then TOOL=$c; break; fi
    done
    [ -n "$TOOL" ] || die "built, but no $BUILD/pycore-garbage"
  elif [ -x "$BUILD/pycore-garbage" ]; then
    TOOL="$BUILD/pycore-garbage"
  else
    echo "bench: no pycore-garbage yet (no meson.build target, no $BUILD/pycore-garbage): floor only"
  fi
elif [ ! -x "$TOOL" ]; then
  die "PYCORE_TOOL=$TOOL is not executable"
fi
[ -n "$TOOL" ] || [ -n "$FLOOR" ] || die "neither a floor walker nor the tool: nothing to measure"

# --- runs -------------------------------------------------------------------
read -r -d '' RUNNER <<'EOF' || true
import json, os, re, select, shlex, statistics, sys, time

env = os.environ
N = int(env['B_N']); core = env['B_CORE']; meta_path = env['B_META']
tool = env.get('B_TOOL') or None; floor = env.get('B_FLOOR') or None
bdir = env['B_DIR']; rounds = int(env['ROUNDS'])
target = float(env.get('BENCH_TARGET') or 1.5)
args = shlex.split(env.get('PYCORE_ARGS', ''))
cmp_set = 'BENCH_COMPARE_ARGS' in env
cmp_args = shlex.split(env.get('BENCH_COMPARE_ARGS', ''))
MiB = 1024.0 * 1024.0
meta = json.load(open(meta_path))

def run(argv, out_path, err_path):
    """wall time (s), peak RssAnon, peak VmHWM (bytes), exit status"""
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    nul = os.open('/dev/null', os.O_RDONLY)
    fa = [(os.POSIX_SPAWN_DUP2, nul, 0), (os.POSIX_SPAWN_DUP2, out, 1),
          (os.POSIX_SPAWN_DUP2, err, 2)]
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, dict(env), file_actions=fa)
    t1 = None
    for fd in (out, err, nul):
        os.close(fd)
    try:
        pfd = os.pidfd_open(pid)
        pl = select.poll(); pl.register(pfd, select.POLLIN)
    except (AttributeError, OSError):
        pfd = pl = None
    try:
        st = os.open('/proc/%d/status' % pid, os.O_RDONLY)
    except OSError:
        st = None
    anon = hwm = 0
    while True:
        if st is not None:
            try:
                s = os.pread(st, 8192, 0)
                m = re.search(rb'RssAnon:\s+(\d+)', s)
                if m: anon = max(anon, int(m.group(1)) * 1024)
                m = re.search(rb'VmHWM:\s+(\d+)', s)
                if m: hwm = max(hwm, int(m.group(1)) * 1024)
            except OSError:
                pass
        if pl is not None:
            if pl.poll(2):
                t1 = time.perf_counter()
                break
        else:
            r, status, ru = os.wait4(pid, os.WNOHANG)
            if r:
                t1 = time.perf_counter(); break
            time.sleep(0.002)
    if pl is not None:
        _, status, ru = os.wait4(pid, 0)
        os.close(pfd)
    if st is not None:
        os.close(st)
    hwm = max(hwm, ru.ru_maxrss * 1024)
    return t1 - t0, anon, hwm, os.waitstatus_to_exitcode(status)

def f_s(x): return '%.3fs' % x
def f_m(x): return '%.1f MiB' % (x / MiB)

floor_cmd = [floor, core] + ([meta['gen0_addr'][2:]] if meta.get('gen0_addr') else []) if floor else None
tool_cmd = [tool, '--json'] + args + [core] if tool else None
cmp_cmd = [tool, '--json'] + cmp_args + [core] if (tool and cmp_set) else None
p = lambda s: os.path.join(bdir, s)
jobs = []   # (label, argv, stdout file)
if floor_cmd: jobs.append(('floor', floor_cmd, p('floor_%d.txt' % N)))
if tool_cmd: jobs.append(('tool', tool_cmd, p('out_%d.json' % N)))
if cmp_cmd: jobs.append(('compare', cmp_cmd, p('out_%d.compare.json' % N)))
for label, argv, _ in jobs:
    print('%-8s %s' % (label + ':', ' '.join(shlex.quote(a) for a in argv)))

# page cache: the core once, then one untimed run of each command
with open(core, 'rb') as f:
    while f.read(1 << 22):
        pass
res = {label: [] for label, _, _ in jobs}
failed = {}
for label, argv, outp in jobs:
    run(argv, outp, outp + '.err')
for r in range(1, rounds + 1):
    parts = []
    for label, argv, outp in jobs:
        t, anon, hwm, rc = run(argv, outp, outp + '.err')
        res[label].append((t, anon, hwm))
        if rc != 0:
            failed[label] = rc
        parts.append('%s %s (private %s, VmHWM %s%s)' % (label, f_s(t), f_m(anon), f_m(hwm),
                     '' if rc == 0 else ', EXIT %d' % rc))
    if floor_cmd and tool_cmd:
        parts.append('ratio %.2f' % (res['tool'][-1][0] / res['floor'][-1][0]))
    print('round %d/%d: %s' % (r, rounds, '  '.join(parts)), flush=True)

med = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
peak = {k: max(x[1] for x in v) for k, v in res.items()}
hwmx = {k: max(x[2] for x in v) for k, v in res.items()}
ratio = {}
for k in ('tool', 'compare'):
    if k in res and 'floor' in res:
        ratio[k] = statistics.median(a[0] / b[0] for a, b in zip(res[k], res['floor']))
for label, _, _ in jobs:
    line = 'median %-8s %s  peak private %s  VmHWM %s' % (label, f_s(med[label]), f_m(peak[label]), f_m(hwmx[label]))
    if label in ratio:
        line += '  ratio to floor %.2f' % ratio[label]
    print(line)
if 'compare' in res:
    print('compare (%s) vs tool (%s): median of per-round ratios %.2f' % (
        ' '.join(cmp_args) or 'no args', ' '.join(args) or 'no args',
        statistics.median(a[0] / b[0] for a, b in zip(res['compare'], res['tool']))))

# --- totals -----------------------------------------------------------------
ok = True
def check(name, got, want):
    global ok
    good = got == want
    ok = ok and good
    print('check %-22s tool %-10s meta %-10s %s' % (name, got, want, 'OK' if good else 'MISMATCH'))

def by_key(rows):
    d = {}
    for e in rows:
        k = (e.get('type'), bool(e.get('oldstyle', False)))
        d[k] = d.get(k, 0) + int(e.get('count', 1))
    return d

def check_hist(name, got, want):
    global ok
    diff = sorted(k for k in set(got) | set(want) if got.get(k, 0) != want.get(k, 0))
    if not diff:
        print('check %-22s %d types, all counts equal OK' % (name, len(want)))
        return
    ok = False
    print('check %-22s %d of %d types differ MISMATCH' % (name, len(diff), len(set(got) | set(want))))
    for k in diff[:20]:
        print('    %-32s %-9s tool %-9s meta %s' % (k[0], 'oldstyle' if k[1] else '', got.get(k, 0), want.get(k, 0)))
    if len(diff) > 20:
        print('    ... %d more' % (len(diff) - 20))

tracked = meta['tracked']
budget = 64 * MiB + 16 * tracked
bk = meta.get('bookkeeping', {})
print('meta: tracked %d, gc.garbage %d, cycles %d objects; bookkeeping: %d object(s) excluded (%s), recount before the dump %s'
      % (tracked, meta['garbage'], meta['cycles']['objects'], bk.get('excluded', 0),
         '; '.join(bk.get('excluded_objects', [])), bk.get('recount_before_ready')))
if 'tracked_residual' in meta:
    print('meta: WARNING: the recount differed from the census by %d: histogram totals may be off' % meta['tracked_residual'])

for label in ('tool', 'compare'):
    if label not in res:
        continue
    outp = dict((l, o) for l, _, o in jobs)[label]
    print('totals (%s, %s):' % (label, os.path.basename(outp)))
    if label in failed:
        print('check %-22s exit status %d MISMATCH (stderr: %s.err)' % ('run', failed[label], outp))
        ok = False
        continue
    try:
        out = json.load(open(outp))
    except Exception as e:
        print('check %-22s cannot read the JSON: %s MISMATCH' % ('json', e))
        ok = False
        continue
    if out.get('schema') != 'pycore-garbage/1':
        print('note: schema %r' % out.get('schema'))
    if out.get('partial'):
        print('note: the tool says partial: true')
    if out.get('warnings'):
        print('note: %d warning(s), first: %s' % (len(out['warnings']), str(out['warnings'][0])[:200]))
    check('tracked.count', (out.get('tracked') or {}).get('count'), tracked)
    check('len(garbage)', len(out.get('garbage') or []), meta['garbage'])
    check_hist('garbage per type', by_key({'type': g.get('type'), 'oldstyle': g.get('oldstyle', False)} for g in out.get('garbage') or []), by_key(meta['garbage_types']))
    check_hist('histogram per type', by_key(out.get('types') or []), by_key(meta['types']))
    gens = out.get('generations') or []
    if len(gens) == 3 and meta.get('gen_lengths') and meta.get('gc_count'):
        for what, key, want in (('generation lengths', 'count', meta['gen_lengths']),
                                ('generation counters', 'counter', meta['gc_count'])):
            got = [g.get(key) for g in gens]
            print('info  %-22s tool %s meta %s %s (not part of the totals)' % (
                what, got, want, 'equal' if got == want else 'DIFFER'))

# the floor's own counts: validates the core and its meta (informational)
floor_ok = None
if floor_cmd:
    try:
        txt = open(dict((l, o) for l, _, o in jobs)['floor']).read()
        fh = {}
        for line in txt.splitlines():
            m = re.match(r'\s*(\d+) (.*)$', line)
            if m and not line.startswith('total'):
                fh[m.group(2)] = fh.get(m.group(2), 0) + int(m.group(1))
        m = re.search(r'total (\d+) objects, \d+ types/classes, gc.garbage (-?\d+)', txt)
        mh = {}
        for e in meta['types']:
            mh[e['type']] = mh.get(e['type'], 0) + e['count']
        floor_ok = bool(m) and int(m.group(1)) == tracked and int(m.group(2)) == meta['garbage'] and fh == mh
        print('floor vs meta (core sanity, informational): total %s garbage %s histogram %s: %s' % (
            m.group(1) if m else '?', m.group(2) if m else '?', 'equal' if fh == mh else 'DIFFERS',
            'OK' if floor_ok else 'MISMATCH (the floor knows one python2.7 build)'))
    except (OSError, KeyError) as e:
        print('floor vs meta: cannot check (%s)' % e)

peak_tool = peak.get('tool')
# With the offline collection in the output, the budget is the graph's:
# 64 MiB + 64 B per tracked object + 8 B per edge.
try:
    with open(dict((l, o) for l, _, o in jobs)['tool']) as f:
        edges = json.load(f).get('collection', {}).get('summary', {}).get('edges')
except Exception:
    edges = None
if edges is not None:
    budget = 64 * MiB + 64 * tracked + 8 * edges
    if not env.get('BENCH_TARGET'):
        target = 3.0   # the full analysis (graph + collection): <= 3, aim 2
s = 'bench N=%d:' % N
if 'floor' in med: s += ' floor %.2fs' % med['floor']
if 'tool' in med: s += ' tool %.2fs' % med['tool']
if 'tool' in ratio: s += ' ratio %.2f (target <= %g%s)' % (ratio['tool'], target, '' if ratio['tool'] <= target else ', MISSED')
elif 'tool' in med: s += ' (no floor: absolute times only)'
if 'compare' in med:
    s += ' compare %.2fs' % med['compare'] + (' ratio %.2f' % ratio['compare'] if 'compare' in ratio else '')
    if 'tool' in med and med['compare'] > 0:
        s += ' (tool/compare %.2fx)' % (med['tool'] / med['compare'])
if peak_tool is not None:
    s += ' peak private %.1f MiB (budget %.1f MiB%s, %s)' % (peak_tool / MiB, budget / MiB,
        ' = 64 MiB + 64 B x objects + 8 B x %d edges' % edges if edges is not None else '',
        'met' if peak_tool <= budget else 'EXCEEDED')
    s += ' totals ' + ('OK' if ok else 'MISMATCH')
else:
    s += ' (no tool: floor only) floor totals ' + ('OK' if floor_ok else 'MISMATCH' if floor_ok is False else '?')
print(s)
with open(os.path.join(bdir, 'summary_%d.txt' % N), 'w') as f:
    f.write(s + '\n')
sys.exit(0 if ok else 1)
EOF

status=0
summaries=()
for n in "${Ns[@]}"; do
  echo "=== N=$n ==="
  make_core "$n"
  rc=0
  rm -f "$BENCH/summary_$n.txt"
  B_N=$n B_CORE="$BENCH/bench_$n.core" B_META="$BENCH/bench_$n.json" B_TOOL="$TOOL" \
    B_FLOOR="$FLOOR" B_DIR="$BENCH" ROUNDS="$ROUNDS" "$PY3" -c "$RUNNER" || rc=$?
  [ $rc -eq 0 ] || status=1
  summaries+=("$(cat "$BENCH/summary_$n.txt" 2>/dev/null || echo "bench N=$n: runner failed (status $rc)")")
done
if [ ${#Ns[@]} -gt 1 ]; then
  echo "=== summary ==="
  printf '%s\n' "${summaries[@]}"
fi
exit $status

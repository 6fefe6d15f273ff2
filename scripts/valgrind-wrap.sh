#!/usr/bin/env bash
# meson test --wrapper for scripts/valgrind.sh: runs the test command as it is,
# except that its `--tool PATH` argument becomes a shim running PATH under
# valgrind memcheck (logs in $PG_VALGRIND_LOGS, one per tool run).
set -uo pipefail
logs=${PG_VALGRIND_LOGS:?set by scripts/valgrind.sh}
shimdir=$(mktemp -d)
trap 'rm -rf "$shimdir"' EXIT
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --tool ] && [ $# -ge 2 ]; then
    real=$(readlink -f "$2")
    cat >"$shimdir/pycore-garbage" <<EOF
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \\
  --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 \\
  --log-file="$logs/tool.%p.log" "$real" "\$@"
EOF
    chmod +x "$shimdir/pycore-garbage"
    args+=(--tool "$shimdir/pycore-garbage")
    shift 2
  else
    args+=("$1")
    shift
  fi
done
"${args[@]}"

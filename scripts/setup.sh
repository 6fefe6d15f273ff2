#!/usr/bin/env bash
# Installs everything pycore-garbage needs on a fresh Debian 12 machine. Idempotent.
#  - build deps: meson, ninja, pkg-config, elfutils (libdw/libelf), jansson, gcc, clang
#  - Python 2.7 (release + debug interpreter with DWARF) from Debian bullseye, pinned at
#    priority 100 so that nothing else on the machine changes
#  - gdb (gcore) to make fixture cores, graphviz to render --dot output
# The bullseye suite reuses the mirror the machine's own apt sources already name.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_update=0
list=/etc/apt/sources.list.d/pycore-bullseye.list
pin=/etc/apt/preferences.d/pycore-bullseye.pref

mirror_uri() {
  # First Debian (non-security) mirror URI named by this machine's apt sources.
  local u=""
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    u=$(awk '/^URIs:/ {for (i=2;i<=NF;i++) print $i}' /etc/apt/sources.list.d/*.sources \
        | grep -v -- '-security' | grep -i 'debian' | head -n1 || true)
  fi
  if [ -z "$u" ] && [ -f /etc/apt/sources.list ]; then
    u=$(awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' \
        /etc/apt/sources.list | grep -v -- '-security' | head -n1 || true)
  fi
  printf '%s' "$u"
}

if [ ! -f "$list" ]; then
  uri=$(mirror_uri)
  if [ -z "$uri" ]; then
    echo "setup: cannot find a Debian mirror in this machine's apt sources" >&2
    exit 1
  fi
  printf 'deb %s bullseye main\ndeb-src %s bullseye main\n' "$uri" "$uri" | $SUDO tee "$list" >/dev/null
  need_update=1
fi
if [ ! -f "$pin" ]; then
  printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n' | $SUDO tee "$pin" >/dev/null
  need_update=1
fi

pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libdw-dev libelf-dev libjansson-dev
      gdb graphviz file xz-utils)
py_pkgs=(python2.7 python2.7-dbg)

missing=()
for p in "${pkgs[@]}" "${py_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ] || [ "$need_update" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

/usr/bin/python2.7 -c 'import sys; assert sys.version_info[:2] == (2, 7)'
echo "setup: ok"

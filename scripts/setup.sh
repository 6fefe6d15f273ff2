#!/usr/bin/env bash
# Installs everything pycore-garbage needs on a fresh Debian 12 machine. Idempotent.
#  - build deps: meson, ninja, pkg-config, elfutils (libdw/libelf), jansson, gcc, clang
#  - Python 2.7 (release + debug interpreter with DWARF) from Debian bullseye, pinned at
#    priority 100 so that nothing else on the machine changes
#  - gdb (gcore) to make fixture cores, graphviz to render --dot output (and libgvc,
#    libgraphviz-dev, to lay out --html's cycles), chromium to render --html in a test,
#    groff-base to check the man page
#  - zstd, lz4, liblzma, zlib, bzip2 (libraries and tools) for compressed cores;
#    debuginfod and libarchive-tools for the debuginfod test; libpython2.7-dev (bullseye)
#    for the embedding host
#
# What it does with apt, in this order:
#  1. Every package below already installed (dpkg-query): nothing more. No file under
#     /etc/apt is written and apt-get is not run at all.
#  2. Python 2.7 missing: "detect, don't duplicate". Every apt source file is read,
#     in either format: one-line (sources.list, sources.list.d/*.list) and deb822
#     (sources.list.d/*.sources); comments, "Enabled: no" stanzas and security
#     suites do not count. When an entry already names suite bullseye (component
#     main) on a Debian mirror, it is used and no source is added. Otherwise
#     sources.list.d/pycore-bullseye.sources (or .list, in the format of the entry it
#     copies) is added: the URI and the options (Signed-By above all, so that apt never
#     sees two values for one source) of the machine's own first Debian entry.
#     Likewise a pin for bullseye ("Pin: release n=bullseye") in preferences or
#     preferences.d/ is used as it is; otherwise preferences.d/pycore-bullseye.pref
#     (every bullseye package at priority 100) is added.
#  3. apt-get update, and its result is checked (exit status, "E:" lines, and a "W:"
#     line about bullseye when setup added the source). When it fails after setup
#     changed apt's configuration, setup removes exactly the files it added, runs
#     nothing else, and says in one line why, with apt's own message.
#  4. apt-get install of what is missing, then a check of /usr/bin/python2.7.
#
# For tests only (fixtures/test_setup.py), never needed on a real machine:
#   PYCORE_APT_ETC   the directory read and written instead of /etc/apt. apt-get itself
#                    is not told about it: it only makes sense with a stub apt-get.
#   PYCORE_PYTHON2   the interpreter checked at the end (default /usr/bin/python2.7)
#   apt-get, dpkg-query, id and sudo are looked up on PATH, so a test can put stubs
#   (which record their calls) first on PATH.
set -euo pipefail

apt_etc=${PYCORE_APT_ETC:-/etc/apt}
py2=${PYCORE_PYTHON2:-/usr/bin/python2.7}

# The compression libraries read compressed cores (zstd, lz4, xz, gzip, bzip2); their
# command-line tools make the compressed copies the tests read. debuginfod and
# libarchive-tools (bsdtar, which debuginfod runs to open .deb files) serve debug info
# to the test that hides /usr/lib/debug.
pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libdw-dev libelf-dev libjansson-dev
      libzstd-dev liblz4-dev liblzma-dev zlib1g-dev libbz2-dev zstd lz4 xz-utils gzip bzip2
      debuginfod libarchive-tools gdb graphviz file groff-base
      libc6-dbg libgraphviz-dev chromium)
# libc6-dbg: libc's DWARF (main_arena, mp_, the arena list) for the memory tree's malloc state.
# libgraphviz-dev: libgvc lays out the cycles --html draws; chromium (headless) renders
# the --html page in its test.
# libpython2.7-testsuite: CPython's own Lib/test, run as a fixture heap (scenario stdlib_suite);
# libpython2.7-dev: libpython2.7.so for the embedding host (fixtures/embed/host.c)
py_pkgs=(python2.7 python2.7-dbg libpython2.7-testsuite libpython2.7-dev)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

check_python() {
  "$py2" -c 'import sys; assert sys.version_info[:2] == (2, 7)' \
    || die "$py2 is not a working Python 2.7"
}

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
py_missing=0
for p in "${pkgs[@]}"; do
  installed "$p" || missing+=("$p")
done
for p in "${py_pkgs[@]}"; do
  installed "$p" || { missing+=("$p"); py_missing=1; }
done

if [ ${#missing[@]} -eq 0 ]; then
  say "every package is installed; apt left alone"
  check_python
  say "ok"
  exit 0
fi
say "missing: ${missing[*]}"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

US=$'\037'   # field separator of the records below (never in apt's files)
NL=$'\036'   # stands for a newline inside a field (a multi-line deb822 value)

# Every enabled entry of apt's sources, one record per (type, URI, suite):
#   file US format US type US uri US suite US components US options
# format is deb822 or one-line; options are the raw option fields of the stanza
# (deb822, lines joined by NL, continuation lines kept) or the text inside [ ]
# (one-line). URIs lose a trailing slash.
apt_entries() {
  local files=()
  [ -f "$apt_etc/sources.list" ] && files+=("$apt_etc/sources.list")
  local f
  for f in "$apt_etc"/sources.list.d/*.list "$apt_etc"/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -v US="$US" -v NL="$NL" '
    function trim(s) { sub(/^[ \t\r]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
    function emit(file, fmt, types, uris, suites, comps, opts,   nt, t, nu, u, ns, s, i, j, k, uri) {
      nt = split(types, t, /[ \t]+/); nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
      for (i = 1; i <= nt; i++) for (j = 1; j <= nu; j++) for (k = 1; k <= ns; k++) {
        if (t[i] == "" || u[j] == "" || s[k] == "") continue
        uri = u[j]; sub(/\/+$/, "", uri)
        print file US fmt US t[i] US uri US s[k] US comps US opts
      }
    }
    function stanza_end() {
      if (nfields > 0 && tolower(f["enabled"]) != "no" && tolower(f["enabled"]) != "false")
        emit(file, "deb822", f["types"], f["uris"], f["suites"], f["components"], opts)
      split("", f); opts = ""; nfields = 0; cur = ""
    }
    FNR == 1 { if (deb822) stanza_end(); file = FILENAME; deb822 = (file ~ /\.sources$/); split("", f); opts = ""; nfields = 0; cur = "" }
    deb822 && /^#/ { next }
    deb822 && /^[ \t\r]*$/ { stanza_end(); next }
    deb822 && /^[ \t]/ {
      if (cur == "") next
      if (cur == "*opt*") opts = opts NL $0
      else f[cur] = f[cur] " " trim($0)
      next
    }
    deb822 {
      i = index($0, ":"); if (i == 0) next
      name = tolower(trim(substr($0, 1, i - 1))); nfields++
      if (name == "types" || name == "uris" || name == "suites" || name == "components" || name == "enabled") {
        f[name] = trim(substr($0, i + 1)); cur = name
      } else {
        opts = (opts == "" ? "" : opts NL) $0; sub(/[\r]+$/, "", opts); cur = "*opt*"
      }
      next
    }
    {
      line = $0; i = index(line, "#"); if (i > 0) line = substr(line, 1, i - 1)
      line = trim(line); if (line == "") next
      n = split(line, w, /[ \t]+/); type = w[1]
      rest = trim(substr(line, length(type) + 1)); o = ""
      if (substr(rest, 1, 1) == "[") {
        i = index(rest, "]"); if (i == 0) next
        o = trim(substr(rest, 2, i - 2)); rest = trim(substr(rest, i + 1))
      }
      n = split(rest, w, /[ \t]+/); if (n < 2) next
      comps = ""; for (k = 3; k <= n; k++) comps = comps (k > 3 ? " " : "") w[k]
      emit(file, "one-line", type, w[1], w[2], comps, o)
    }
    END { if (deb822) stanza_end() }
  ' "${files[@]}"
}

# Pins for bullseye in preferences and preferences.d (the files apt reads: no
# extension or .pref, a name of letters, digits, "_", "-", "."): file US priority.
bullseye_pins() {
  local files=() f b
  [ -f "$apt_etc/preferences" ] && files+=("$apt_etc/preferences")
  for f in "$apt_etc"/preferences.d/*; do
    b=${f##*/}
    [ -f "$f" ] || continue
    [[ $b =~ ^[A-Za-z0-9_.-]+$ ]] || continue
    [[ $b == *.* && $b != *.pref ]] && continue
    files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -v US="$US" '
    function trim(s) { sub(/^[ \t\r]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
    function stanza_end(   n, a, k, p) {
      p = pin; if (p ~ /^release[ \t]/) {
        sub(/^release[ \t]+/, "", p); n = split(p, a, /[ \t]*,[ \t]*/)
        for (k = 1; k <= n; k++) if (trim(a[k]) == "n=bullseye") { print file US prio; break }
      }
      pin = ""; prio = ""
    }
    FNR == 1 { stanza_end(); file = FILENAME }
    /^#/ { next }
    /^[ \t\r]*$/ { stanza_end(); next }
    { i = index($0, ":"); if (i == 0) next
      name = tolower(trim(substr($0, 1, i - 1))); v = trim(substr($0, i + 1))
      if (name == "pin") pin = v; else if (name == "pin-priority") prio = v }
    END { stanza_end() }
  ' "${files[@]}"
}

is_security() { [[ $1 == *security* ]]; }
is_debian_suite() { # a Debian release (codename or class), with -updates etc.
  [[ ${1%%-*} =~ ^(buster|bullseye|bookworm|trixie|forky|duke|sid|unstable|testing|stable|oldstable|oldoldstable)$ ]]
}
has_main() { [[ " $1 " == *" main "* ]]; }

dup_hint=""
added=()   # files this run wrote; removed again unless apt-get update accepts them
keep=0
tmp=$(mktemp)
cleanup() {
  rm -f "$tmp"
  if [ "$keep" = 0 ] && [ ${#added[@]} -gt 0 ]; then
    $SUDO rm -f -- "${added[@]}"
    printf 'setup: stopped before apt-get update accepted them: removed %s\n' "${added[*]}" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

put() { # path, text: writes the text there and remembers the file as added
  added+=("$1")
  if ! printf '%s\n' "$2" | $SUDO tee "$1" >/dev/null; then
    die "cannot write $1"
  fi
}

if [ "$py_missing" = 1 ]; then
  entries=$(apt_entries)
  # The machine's Debian mirrors: URIs with "debian" in them, or that serve a
  # Debian release, never a security archive.
  debian_uris=" "
  while IFS=$US read -r file fmt type uri suite comps opts; do
    [ -n "$file" ] || continue
    is_security "$uri" && continue
    if [[ ${uri,,} == *debian* ]] || is_debian_suite "$suite"; then debian_uris+="$uri "; fi
  done <<<"$entries"

  have=()
  mirror=""
  while IFS=$US read -r file fmt type uri suite comps opts; do
    if [ -z "$file" ] || [ "$type" != deb ] || [[ $uri != *:* || $uri == cdrom:* ]]; then continue; fi
    is_security "$uri" && continue
    is_security "$suite" && continue
    has_main "$comps" || continue
    [[ ${uri,,} == *debian* ]] || [[ $debian_uris == *" $uri "* ]] || continue
    if [ "$suite" = bullseye ]; then
      have+=("$file")
    elif [ -z "$mirror" ] && is_debian_suite "$suite"; then
      mirror=$uri; m_file=$file; m_fmt=$fmt; m_opts=$opts
    fi
  done <<<"$entries"

  if [ ${#have[@]} -gt 0 ]; then
    mapfile -t have < <(printf '%s\n' "${have[@]}" | sort -u)
    say "bullseye is already configured in ${have[*]}: no source added"
    if [ ${#have[@]} -gt 1 ]; then
      for f in "${have[@]}"; do
        case "$f" in
          */pycore-bullseye.list|*/pycore-bullseye.sources)
            say "note: $f (from an earlier setup.sh) duplicates another bullseye entry; if apt reports conflicting values, remove it"
            dup_hint="; $f, from an earlier setup.sh, duplicates another bullseye entry: remove it" ;;
        esac
      done
    fi
  else
    [ -n "$mirror" ] || die "cannot find a Debian mirror in this machine's apt sources ($apt_etc/sources.list, $apt_etc/sources.list.d/): no source added"
    if [ "$m_fmt" = deb822 ]; then
      src=$apt_etc/sources.list.d/pycore-bullseye.sources
    else
      src=$apt_etc/sources.list.d/pycore-bullseye.list
    fi
    [ ! -e "$src" ] || die "$src exists but enables no bullseye entry: fix or remove it"
    text="# Added by pycore-garbage scripts/setup.sh: Debian bullseye for Python 2.7 (pinned
# low in preferences.d), with the mirror and options of $m_file."
    if [ "$m_fmt" = deb822 ]; then
      text+=$'\n'"Types: deb deb-src"$'\n'"URIs: $mirror"$'\n'"Suites: bullseye"$'\n'"Components: main"
      nl=$'\n'
      [ -z "$m_opts" ] || text+=$nl${m_opts//$NL/$nl}
    else
      o=""; [ -z "$m_opts" ] || o="[ $m_opts ] "
      text+=$'\n'"deb $o$mirror bullseye main"$'\n'"deb-src $o$mirror bullseye main"
    fi
    put "$src" "$text"
    say "added $src (bullseye from $mirror, options as in $m_file)"
  fi

  pins=$(bullseye_pins)
  if [ -n "$pins" ]; then
    IFS=$US read -r pfile pprio <<<"${pins%%$'\n'*}"
    say "bullseye is already pinned in $pfile (priority ${pprio:-unset}): no pin added"
    if [ -n "$pprio" ] && [ "$pprio" -gt 100 ] 2>/dev/null; then
      say "note: that priority is above 100, so bullseye packages may replace some of bookworm's"
    fi
  else
    pin=$apt_etc/preferences.d/pycore-bullseye.pref
    [ ! -e "$pin" ] || die "$pin exists but pins nothing to bullseye: fix or remove it"
    put "$pin" $'Package: *\nPin: release n=bullseye\nPin-Priority: 100'
    say "added $pin (bullseye at priority 100)"
  fi
fi

set +e
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q 2>&1 | tee "$tmp"
rc=${PIPESTATUS[0]}
set -e
why=$(grep -m1 '^E:' "$tmp" || true)
if [ -z "$why" ] && [ ${#added[@]} -gt 0 ]; then
  why=$(grep -m1 '^W:.*bullseye' "$tmp" || true)
fi
if [ "$rc" != 0 ] || [ -n "$why" ]; then
  [ -n "$why" ] || why="exit status $rc, $(grep -v '^[[:space:]]*$' "$tmp" | tail -n1)"
  why=$(printf '%s' "$why" | tr -s '\r\n\t' '   ')
  if [ ${#added[@]} -gt 0 ]; then
    $SUDO rm -f -- "${added[@]}"
    keep=1
    die "apt-get update failed after setup added ${added[*]}; setup removed what it had added, so apt's configuration is as before; apt said: $why"
  fi
  die "apt-get update failed (setup changed nothing in $apt_etc); apt said: $why$dup_hint"
fi
keep=1

$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
  || die "apt-get install ${missing[*]} failed (see apt's messages above)"

check_python
say "ok"

#!/usr/bin/env python3
"""Runs two builds of pycore-garbage on every core in a directory and
compares their outputs byte for byte: the text report, the JSON report (with
--components), --dot -, --no-collect, and --object (text and JSON) on a few
objects of each core (gc.garbage's first, a cycle example's, the probes the
fixture's truth names).  For a change that must not change any output (a
restructuring), every line must say 'same'.

usage: compare.py --old OLD_BINARY --new NEW_BINARY [--cores DIR] [--jobs N]
       [--show N] [CORE...]
Exit 0 when all outputs are identical, 1 when any differs, 2 usage.
"""
import argparse
import concurrent.futures
import difflib
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(binary, args, timeout=900):
    p = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout


def objects_of(core, old):
    """A few addresses worth --object on, from the old build's own JSON and
    from the fixture's truth."""
    rc, out = run(old, ['--json', core])
    addrs = []
    if rc == 0:
        d = json.loads(out)
        addrs += [g['addr'] for g in d.get('garbage', [])[:2]]
        for g in d.get('cycles', [])[:3]:
            ex = g.get('example', {}).get('objects', [])
            addrs += [o['addr'] for o in ex[:2]]
        if d.get('garbage_list'):
            addrs.append(d['garbage_list'])
    truth = core[:-len('.core')] + '.truth.json'
    if os.path.exists(truth):
        with open(truth) as f:
            t = json.load(f)
        addrs += [p['addr'] for p in t.get('probes', [])[:20]]
    seen, out = set(), []
    for a in addrs:
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


def compare_core(core, old, new, show):
    name = os.path.basename(core)
    runs = [('text', []), ('json', ['--json', '--components']), ('dot', ['--dot', '-']),
            ('no-collect', ['--no-collect', '--json']), ('text-components', ['--components', '--max-groups', '3'])]
    for a in objects_of(core, old):
        runs.append(('object %s' % a, ['--object', a]))
        runs.append(('object-json %s' % a, ['--json', '--object', a]))
    lines, same = [], True
    for what, args in runs:
        ro, oo = run(old, args + [core])
        rn, on = run(new, args + [core])
        if ro == rn and oo == on:
            continue
        same = False
        lines.append('DIFF %s %s: exit %d vs %d, %d vs %d bytes' % (name, what, ro, rn, len(oo), len(on)))
        diff = difflib.unified_diff(oo.decode('utf-8', 'replace').splitlines(),
                                    on.decode('utf-8', 'replace').splitlines(), 'old', 'new', lineterm='', n=1)
        lines += ['    ' + l for l in list(diff)[:show]]
    if same:
        lines.append('same %s (%d outputs)' % (name, len(runs)))
    return same, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--old', required=True)
    ap.add_argument('--new', required=True)
    ap.add_argument('--cores', default=os.path.join(ROOT, 'build', 'cores'))
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--show', type=int, default=12, help='diff lines shown per differing output')
    ap.add_argument('core', nargs='*')
    a = ap.parse_args()
    cores = a.core or sorted(glob.glob(os.path.join(a.cores, '*.core')))
    if not cores:
        print('no cores in %s' % a.cores)
        return 2
    differ = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for same, lines in ex.map(lambda c: compare_core(c, a.old, a.new, a.show), cores):
            print('\n'.join(lines))
            differ += not same
    print('%d cores, %d identical, %d differ' % (len(cores), len(cores) - differ, differ))
    return 1 if differ else 0


if __name__ == '__main__':
    sys.exit(main())

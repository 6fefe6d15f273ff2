#!/usr/bin/env python3
"""Shrink an ELF core for fuzzing: keep the ELF header, the program headers,
the notes, and only the PT_LOAD bytes that the analyzer's answer depends on.

usage: shrink_core.py --tool PATH CORE OUT [--pages] [--min-chunk PAGES] [--budget SECONDS]

A PT_LOAD whose bytes are dropped stays in the program headers with
p_filesz = 0 (a hole), so the address space the core describes is the same.
A drop is kept only when the tool's --json report is unchanged (the core's
path aside) and not partial: the shrunk core is one the analyzer reads
exactly as it reads the original.  First whole segments are tried, then
(with --pages) runs of pages inside the segments that are left, halving down
to --min-chunk pages.  Section headers (gcore writes some) are dropped.

Prints the sizes before and after and the number of tool runs.  Exit 0 on
success, 1 when the original core does not analyse cleanly.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

PT_LOAD, PT_NOTE = 1, 4
PAGE = 0x1000


def read_core(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] != b'\x7fELF' or data[4] != 2 or data[5] != 1:
        raise SystemExit('%s: not a 64-bit little-endian ELF file' % path)
    ehdr = list(struct.unpack_from('<16sHHIQQQIHHHHHH', data, 0))
    phoff, phentsize, phnum = ehdr[5], ehdr[9], ehdr[10]
    phdrs = []
    for i in range(phnum):
        p = list(struct.unpack_from('<IIQQQQQQ', data, phoff + i * phentsize))
        # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
        phdrs.append({'type': p[0], 'flags': p[1], 'vaddr': p[3], 'paddr': p[4],
                      'memsz': p[6], 'align': p[7],
                      'data': data[p[2]:p[2] + p[5]], 'filesz': p[5]})
    return ehdr, phdrs


def split_load(ph, keep_runs):
    """One PT_LOAD as several: keep_runs is a list of (start, end, keep) in
    bytes relative to the segment, covering [0, filesz)."""
    out = []
    for start, end, keep in keep_runs:
        out.append({'type': PT_LOAD, 'flags': ph['flags'], 'vaddr': ph['vaddr'] + start,
                    'paddr': 0, 'memsz': end - start, 'align': ph['align'],
                    'data': ph['data'][start:end] if keep else b'',
                    'filesz': (end - start) if keep else 0})
    if ph['memsz'] > ph['filesz']:
        out.append({'type': PT_LOAD, 'flags': ph['flags'], 'vaddr': ph['vaddr'] + ph['filesz'],
                    'paddr': 0, 'memsz': ph['memsz'] - ph['filesz'], 'align': ph['align'],
                    'data': b'', 'filesz': 0})
    return out


def write_core(path, ehdr, phdrs):
    phnum = len(phdrs)
    if phnum >= 0xffff:
        raise SystemExit('too many program headers (%d)' % phnum)
    off = 64 + 56 * phnum
    blobs = []
    table = []
    for ph in phdrs:
        if ph['filesz']:
            if ph['type'] == PT_LOAD:
                off = (off + PAGE - 1) & ~(PAGE - 1)
            elif ph['type'] == PT_NOTE:
                off = (off + 3) & ~3
            blobs.append((off, ph['data']))
            poff = off
            off += ph['filesz']
        else:
            poff = off
        table.append(struct.pack('<IIQQQQQQ', ph['type'], ph['flags'], poff, ph['vaddr'],
                                 ph['paddr'], ph['filesz'], ph['memsz'], ph['align']))
    e = list(ehdr)
    e[5] = 64          # e_phoff
    e[6] = 0           # e_shoff
    e[10] = phnum      # e_phnum
    e[11] = 64         # e_shentsize
    e[12] = 0          # e_shnum
    e[13] = 0          # e_shstrndx
    with open(path, 'wb') as f:
        f.write(struct.pack('<16sHHIQQQIHHHHHH', *e))
        f.write(b''.join(table))
        for o, d in blobs:
            f.seek(o)
            f.write(d)
        f.truncate(off)


class Shrinker:
    def __init__(self, tool, ehdr, phdrs, tmpdir, budget):
        self.tool, self.ehdr, self.tmpdir = tool, ehdr, tmpdir
        self.phdrs = phdrs
        self.runs = 0
        self.deadline = time.time() + budget
        self.baseline = None

    def report(self, phdrs):
        path = os.path.join(self.tmpdir, 'try.core')
        write_core(path, self.ehdr, phdrs)
        self.runs += 1
        try:
            p = subprocess.run([self.tool, '--json', path], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=120)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0:
            return None
        try:
            d = json.loads(p.stdout)
        except ValueError:
            return None
        if d.get('partial'):
            return None
        d.get('core', {}).pop('path', None)
        return d

    def same(self, phdrs):
        return self.report(phdrs) == self.baseline

    def expired(self):
        return time.time() > self.deadline


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tool', required=True)
    ap.add_argument('--pages', action='store_true', help='also drop runs of pages')
    ap.add_argument('--min-chunk', type=int, default=8, help='smallest run of pages tried (8)')
    ap.add_argument('--budget', type=float, default=600, help='seconds (600)')
    ap.add_argument('core')
    ap.add_argument('out')
    a = ap.parse_args()
    ehdr, phdrs = read_core(a.core)
    before = os.path.getsize(a.core)
    with tempfile.TemporaryDirectory(prefix='pg-shrink-') as tmp:
        # A private copy of the tool: a rebuild of the build dir meanwhile
        # (relinking it under us) must not change or break the runs.
        tool = shutil.copy(a.tool, os.path.join(tmp, 'pycore-garbage'))
        s = Shrinker(tool, ehdr, phdrs, tmp, a.budget)
        s.baseline = s.report(phdrs)
        if s.baseline is None:
            print('shrink: %s does not analyse cleanly (exit != 0 or partial)' % a.core)
            return 1
        # Whole segments, biggest first.
        order = sorted((i for i, p in enumerate(phdrs) if p['type'] == PT_LOAD and p['filesz']),
                       key=lambda i: -phdrs[i]['filesz'])
        cur = list(phdrs)
        for i in order:
            if s.expired():
                break
            trial = list(cur)
            trial[i] = dict(cur[i], data=b'', filesz=0)
            if s.same(trial):
                cur = trial
        # Runs of pages inside what is left.
        if a.pages:
            final = []
            for idx, ph in enumerate(cur):
                if ph['type'] != PT_LOAD or ph['filesz'] <= a.min_chunk * PAGE or s.expired():
                    final.append(ph)
                    continue
                npages = (ph['filesz'] + PAGE - 1) // PAGE
                keep = [True] * npages

                def build(keep_, ph=ph, npages=npages):
                    runs = []
                    for k in range(npages):
                        st, en = k * PAGE, min((k + 1) * PAGE, ph['filesz'])
                        if runs and runs[-1][2] == keep_[k]:
                            runs[-1] = (runs[-1][0], en, keep_[k])
                        else:
                            runs.append((st, en, keep_[k]))
                    return runs

                stack = [(0, npages)]
                while stack and not s.expired():
                    lo, hi = stack.pop()
                    trial_keep = list(keep)
                    for k in range(lo, hi):
                        trial_keep[k] = False
                    trial = final + split_load(ph, build(trial_keep)) + cur[idx + 1:]
                    if s.same(trial):
                        keep = trial_keep
                    elif hi - lo > a.min_chunk:
                        mid = (lo + hi) // 2
                        stack.append((mid, hi))
                        stack.append((lo, mid))
                final.extend(split_load(ph, build(keep)) if not all(keep) else [ph])
            cur = final
        write_core(a.out, ehdr, cur)
        if s.report(cur) != s.baseline:
            print('shrink: the result does not analyse like the original (bug)')
            return 1
        print('shrink: %s: %d -> %d bytes, %d program headers, %d tool runs' %
              (os.path.basename(a.core), before, os.path.getsize(a.out), len(cur), s.runs))
    return 0


if __name__ == '__main__':
    sys.exit(main())

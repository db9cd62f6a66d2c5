#!/usr/bin/python3
"""Date-detector oracle: runs the installed fail2ban 1.0.2 DateDetector over sample logs.

Used by tests/dates_diff.rs. For every configuration (a datepattern, optionally a logtimezone) and every line of
every file under fail2ban's tests/files/logs it prints the chosen template, the match span and the parsed time,
with MyTime fixed to a given "now", and afterwards the per-template hit counts in the detector's final order.

Output (tab-separated, one record a line):
  Y  <year used for %ExY>
  F  <file index> <path>
  T  <file index> <line hex>                      one per line, in order (UTF-8 of the decoded line)
  C  <cfg index> <pattern hex or -> <tz or -> <name printed by fail2ban-regex or ERR:...>
  M  <cfg> <file> <line no> <template name hex> <match start> <group1 start> <group1 end> <time>
  M  <cfg> <file> <line no> -                                  (no template matched)
  H  <cfg> <file> <hits> <template name hex>                   (every template, final order)
Spans are UTF-8 byte offsets; <time> is repr(float), None, or ERR:<exception class>.
Usage: date-oracle.py NOW LOGDIR [CFG-FILE]; CFG-FILE holds "pattern-hex<TAB>tz" lines ("-" = none).
"""
import datetime
import os
import sys

from fail2ban.server.mytime import MyTime
from fail2ban.server.datedetector import DateDetector
from fail2ban.server.filter import Filter


def read_lines(path):
    with open(path, 'rb') as f:
        data = f.read()
    parts = data.split(b'\n')
    if parts and parts[-1] == b'':
        parts.pop()
    return [p.decode('utf-8', 'replace').rstrip('\r') for p in parts]


def hx(s):
    return s.encode('utf-8', 'surrogatepass').hex()


def blen(line, i):
    return len(line[:i].encode('utf-8', 'surrogatepass'))


def make_detector(pattern, tz):
    """Build the detector the way Filter.setDatePattern/setLogTimeZone do; returns (detector, name)."""
    flt = Filter(None)
    if tz is not None:
        flt.setLogTimeZone(tz)
    if pattern is not None:
        flt.setDatePattern(pattern)
    dd = flt.dateDetector
    name = flt.getDatePattern()[1]
    if not dd.templates:
        dd.addDefaultTemplate()
    # Templates are shared through fail2ban's process-wide cache: start every file with fresh counters.
    for t in dd.templates:
        t.template.hits = 0
    return dd, name


def run_config(ci, pattern, tz, files):
    try:
        _, name = make_detector(pattern, tz)
    except Exception as e:
        print('C\t%d\t%s\t%s\tERR:%s' % (ci, hx(pattern) if pattern is not None else '-', tz or '-',
                                        type(e).__name__))
        return
    print('C\t%d\t%s\t%s\t%s' % (ci, hx(pattern) if pattern is not None else '-', tz or '-', hx(name)))
    for fi, lines in enumerate(files):
        dd, _ = make_detector(pattern, tz)
        for li, line in enumerate(lines):
            try:
                m, tpl = dd.matchTime(line)
            except Exception:
                # e.g. IndexError for an empty match at the end of the line (datedetector.py, line[distance])
                m = None
            if not m:
                print('M\t%d\t%d\t%d\t-' % (ci, fi, li))
                continue
            try:
                r = dd.getTime(line, (m, tpl))
                t = repr(r[0]) if r is not None else 'None'
            except Exception as e:
                t = 'ERR:%s' % type(e).__name__
            print('M\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%s' % (
                ci, fi, li, hx(tpl.name), blen(line, m.start()), blen(line, m.start(1)), blen(line, m.end(1)), t))
        for t in dd.templates:
            print('H\t%d\t%d\t%d\t%s' % (ci, fi, t.hits, hx(t.name)))


def main():
    now = float(sys.argv[1])
    logdir = sys.argv[2]
    MyTime.setTime(now)
    print('Y\t%d' % datetime.datetime.now().year)
    paths = []
    for root, _, names in os.walk(logdir):
        for n in names:
            paths.append(os.path.join(root, n))
    paths.sort()
    files = []
    for fi, p in enumerate(paths):
        lines = read_lines(p)
        files.append(lines)
        print('F\t%d\t%s' % (fi, p))
        for line in lines:
            print('T\t%d\t%s' % (fi, hx(line)))
    configs = [(None, None)]
    if len(sys.argv) > 3:
        with open(sys.argv[3]) as f:
            for row in f:
                row = row.rstrip('\n')
                if not row:
                    continue
                p, tz = row.split('\t')
                configs.append((None if p == '-' else bytes.fromhex(p).decode('utf-8'), None if tz == '-' else tz))
    for ci, (pattern, tz) in enumerate(configs):
        run_config(ci, pattern, tz, files)


if __name__ == '__main__':
    main()

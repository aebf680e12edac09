#!/usr/bin/env python3
"""Side by side in one run, in rounds: each round `cat`s the captures, then runs every binary
given with `extract --threads 1` and `--threads 2` (the order reversed every other round, so
that a slow spell of this noisy machine falls on all of them alike). Prints, per binary, the
medians and best runs, `--threads 2` against `cat`, `--threads 1` against `--threads 2` by
medians, by best runs and by best-of-3 (the best of each three consecutive rounds, then the
median of those; for `cat` too), and the peak resident memory (GNU time). It never fails on speed.

usage: python3 benches/rounds.py ROOT ROUNDS BIN...
  e.g. python3 benches/rounds.py /tmp/L 15 /tmp/iotdest-before target/release/iotdest
"""
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    root, rounds, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if not os.path.exists("/usr/bin/time"):
        sys.exit("needs GNU time (/usr/bin/time)")
    files = sorted(
        f for f in glob.glob(os.path.join(root, "**", "*.pcap*"), recursive=True) if os.path.isfile(f)
    )
    if not files:
        sys.exit(f"no captures under {root}")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    scratch = os.environ.get("TMPDIR") or os.path.join(here, "target")
    os.makedirs(scratch, exist_ok=True)
    work = tempfile.mkdtemp(prefix="rounds.", dir=scratch)
    runs = [0]

    def cat():
        start = time.perf_counter()
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start

    def extract(binary, threads):
        # A new output folder every run, all removed at the end: ext4 is slow to create files
        # where many were just deleted.
        runs[0] += 1
        out = os.path.join(work, f"out.{runs[0]}")
        start = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%M", binary, "extract", "--root", root, "--out", out,
             "--threads", str(threads)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        wall = time.perf_counter() - start
        lines = p.stderr.strip().splitlines()
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return wall, rss

    try:
        cats, walls, rss = [], {}, {}
        cat()  # warm the page cache
        for r in range(rounds):
            cats.append(cat())
            order = [(b, t) for b in bins for t in (1, 2)]
            for b, t in order if r % 2 == 0 else order[::-1]:
                w, m = extract(b, t)
                walls.setdefault((b, t), []).append(w)
                rss[(b, t)] = max(rss.get((b, t), 0), m)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    size = sum(os.path.getsize(f) for f in files)
    print(f"{root}: {len(files)} files, {size} bytes, {rounds} rounds; "
          f"cat median {med(cats):.3f} s, best {min(cats):.3f} s")
    for b in bins:
        t1, t2 = walls[(b, 1)], walls[(b, 2)]
        starts = range(0, len(t1) - 2, 3)
        groups = [min(t1[i:i + 3]) / min(t2[i:i + 3]) for i in starts]
        best3 = f"{med(groups):.2f}x" if groups else "n/a"
        to_cat = [min(t2[i:i + 3]) / min(cats[i:i + 3]) for i in starts]
        cat3 = f", {med(to_cat):.2f}x best-of-3" if to_cat else ""
        print(f"{b}\n  --threads 1: median {med(t1):.3f} s, best {min(t1):.3f} s, peak RSS "
              f"{rss[(b, 1)] // 1024} MB\n  --threads 2: median {med(t2):.3f} s, best {min(t2):.3f} s, "
              f"peak RSS {rss[(b, 2)] // 1024} MB; {med(t2) / med(cats):.2f}x cat by medians{cat3}\n"
              f"  threads 1 / threads 2: {med(t1) / med(t2):.2f}x by medians, "
              f"{min(t1) / min(t2):.2f}x best against best, {best3} best-of-3")


if __name__ == "__main__":
    main()

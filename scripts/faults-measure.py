#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Measures `rdna1-vmfix faults` on the real-report corpus (tests/data/faults).

  scripts/faults-measure.py [--tool PATH] [--misses] [--markdown]

Runs the tool once per report (`faults --json FILE`; the metadata header gives the GPU and override
context), compares the verdict class with the report's label, and prints the accuracy of the tuning
part and of the held-back part, and the confusion table of each.

--misses lists the misclassified TUNING reports (file, label, verdict). Held-back misses are never
listed, by design: the README forbids writing rules against the held-back part, and this script does
not show which of its reports fail.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "faults"

# Corpus labels -> the tool's class names.
LABEL_TO_CLASS = {
    "isa_mismatch_override": "isa_mismatch",
    "driver_hang_or_reset": "hang_or_reset",
    "oom": "out_of_memory",
}


def rows():
    lines = (DATA / "INDEX.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def verdict(tool: str, path: Path) -> str:
    proc = subprocess.run([tool, "faults", "--json", str(path)], capture_output=True, text=True, check=False)
    try:
        doc = json.loads(proc.stdout.splitlines()[-1]) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        return f"error(rc={proc.returncode})"
    v = doc.get("verdict", {})
    return v.get("class", f"error(rc={proc.returncode})")


def table(pairs, markdown: bool) -> str:
    labels = sorted({want for want, _ in pairs})
    gots = sorted({got for _, got in pairs} | set(labels))
    counts = {}
    for want, got in pairs:
        counts[(want, got)] = counts.get((want, got), 0) + 1
    head = ["label \\ verdict"] + gots
    body = [[w] + [str(counts.get((w, g), 0) or ".") for g in gots] for w in labels]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(r))
                     for r in [head] + body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", default=str(ROOT / "build" / "userspace" / "rdna1-vmfix"))
    ap.add_argument("--misses", action="store_true", help="list misclassified tuning reports")
    ap.add_argument("--markdown", action="store_true", help="confusion tables as Markdown")
    ap.add_argument("--tuning-only", action="store_true", help="do not run the held-back part at all (rule work)")
    args = ap.parse_args()
    if not Path(args.tool).is_file():
        print(f"no tool at {args.tool} (build it first)", file=sys.stderr)
        return 2
    results = {"tuning": [], "held_back": []}
    for row in rows():
        if args.tuning_only and row["split"] != "tuning":
            continue
        want = LABEL_TO_CLASS.get(row["cause_label"], row["cause_label"])
        got = verdict(args.tool, DATA / row["file"])
        results[row["split"]].append((row["file"], want, got))
    splits = ("tuning",) if args.tuning_only else ("tuning", "held_back")
    for split in splits:
        res = results[split]
        ok = sum(1 for _, w, g in res if w == g)
        print(f"{split}: {ok}/{len(res)} = {100.0 * ok / len(res):.1f}%")
    for split in splits:
        print(f"\nconfusion ({split}):")
        print(table([(w, g) for _, w, g in results[split]], args.markdown))
    if args.misses:
        print("\ntuning misses:")
        for f, w, g in results["tuning"]:
            if w != g:
                print(f"  {f}: label {w}, verdict {g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

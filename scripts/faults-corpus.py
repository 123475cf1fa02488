#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Maintains tests/data/faults/INDEX.tsv, the index of the real-report corpus.

  scripts/faults-corpus.py index   rewrite INDEX.tsv from the reports' metadata headers
  scripts/faults-corpus.py check   validate every report and the index (exit 1 on a problem)

The split column is decided once per report and then kept: a report already in INDEX.tsv keeps
its split; a new report gets one from a hash of its file name (held_back when the first 8 hex
digits of sha256("rdna1-vmfix corpus split v1:" + name) are 0 mod 3, tuning otherwise). Reports
001..039 came from the project's fixture set that the classifier was written against, so they are
tuning by definition. No rule may be written against a held_back report (README.md).
"""

import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "faults"
INDEX = DATA / "INDEX.tsv"
COLUMNS = ["file", "source", "gpu", "cause_label", "has_dmesg_fault_block", "has_userspace_error", "split"]
LABELS = {
    "isa_mismatch_override", "missing_code_object", "unsupported_gpu", "vm_fault_bad_address", "vm_fault_other",
    "graphics_fault", "driver_hang_or_reset", "oom", "pcie_atomics", "unknown",
}
REQUIRED = ["source", "gpu", "kernel", "rocm", "env_override", "framework", "resolution", "cause_label", "label_reason"]
SALT = "rdna1-vmfix corpus split v1:"
# Reports of the original fixture set (tuned against before the corpus grew).
ORIGINAL_MAX = 39

KERNEL_FAULT = re.compile(r"page fault|PROTECTION_FAULT_STATUS|VM_CONTEXT1_PROTECTION|IO_PAGE_FAULT|Page fault observed")
USER_ERROR = re.compile(
    r"Memory access fault|HSA_STATUS_ERROR|hipError|HIP error|ROCm error|rocBLAS error|TensileLibrary|"
    r"is not supported|OutOfMemoryError|invalid device function|HW Exception|GPUVM fault|guarantee\(|"
    r"Error: llama runner|ihipException|No such file")


def split_of(name: str) -> str:
    num = int(name.split(".")[0])
    if num <= ORIGINAL_MAX:
        return "tuning"
    digest = hashlib.sha256((SALT + name).encode()).hexdigest()
    return "held_back" if int(digest[:8], 16) % 3 == 0 else "tuning"


def parse(path: Path):
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if not lines or lines[0] != "---":
        raise ValueError("no metadata header")
    try:
        end = lines.index("---", 1)
    except ValueError as exc:
        raise ValueError("unterminated metadata header") from exc
    meta = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    body = "\n".join(lines[end + 1:])
    return meta, body


def read_index():
    rows = {}
    if INDEX.exists():
        lines = INDEX.read_text(encoding="utf-8").splitlines()
        header = lines[0].split("\t") if lines else []
        for line in lines[1:]:
            cols = line.split("\t")
            rows[cols[0]] = dict(zip(header, cols))
    return rows


def reports():
    return sorted(p for p in DATA.glob("[0-9][0-9][0-9].txt"))


def cmd_index() -> int:
    old = read_index()
    out = ["\t".join(COLUMNS)]
    for path in reports():
        meta, body = parse(path)
        prev = old.get(path.name, {})
        row = {
            "file": path.name,
            "source": meta.get("source", ""),
            "gpu": meta.get("gpu", ""),
            "cause_label": meta.get("cause_label", ""),
            # The hand-written flags of the original rows are kept.
            "has_dmesg_fault_block": prev.get("has_dmesg_fault_block") or ("yes" if KERNEL_FAULT.search(body) else "no"),
            "has_userspace_error": prev.get("has_userspace_error") or ("yes" if USER_ERROR.search(body) else "no"),
            "split": prev.get("split") or split_of(path.name),
        }
        out.append("\t".join(row[c].replace("\t", " ") for c in COLUMNS))
    INDEX.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"{len(out) - 1} reports indexed in {INDEX.relative_to(ROOT)}")
    return 0


def cmd_check() -> int:
    problems = []
    index = read_index()
    files = reports()
    for path in files:
        try:
            meta, body = parse(path)
        except ValueError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        for key in REQUIRED:
            if not meta.get(key):
                problems.append(f"{path.name}: missing '{key}:'")
        if meta.get("cause_label") not in LABELS:
            problems.append(f"{path.name}: unknown cause_label '{meta.get('cause_label')}'")
        if not body.strip():
            problems.append(f"{path.name}: no log text")
        row = index.get(path.name)
        if row is None:
            problems.append(f"{path.name}: not in INDEX.tsv")
            continue
        if row.get("cause_label") != meta.get("cause_label"):
            problems.append(f"{path.name}: INDEX label differs from the report's")
        if row.get("split") != split_of(path.name):
            problems.append(f"{path.name}: split '{row.get('split')}' is not the recorded rule's '{split_of(path.name)}'")
    for name in index:
        if not (DATA / name).exists():
            problems.append(f"INDEX.tsv lists missing file {name}")
    for p in problems:
        print(p, file=sys.stderr)
    by_split = {}
    for row in index.values():
        by_split[row.get("split")] = by_split.get(row.get("split"), 0) + 1
    print(f"{len(files)} reports, splits {by_split}, {len(problems)} problems")
    return 1 if problems else 0


def main(argv) -> int:
    if len(argv) != 2 or argv[1] not in ("index", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    return cmd_index() if argv[1] == "index" else cmd_check()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

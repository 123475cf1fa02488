#!/usr/bin/env python3
"""Lists C/C++ functions longer than a limit (default 80 lines, first to last line of the definition).

Usage: scripts/function-lengths.py [--max N] [--all] PATH...   (directories are searched for
*.c, *.h, *.cpp, *.hpp). Prints "LINES path:line name" for each function over the limit (--all: every
function) and exits 1 when any is over. A brace matcher over the source with comments, strings and
character literals blanked out: a '{' opened at namespace, class or file scope after a ')' starts a
function (lambdas and blocks inside a function count towards it).
"""
import argparse
import os
import re
import sys

CONTROL = re.compile(r"\b(if|for|while|switch|catch|do|else)\s*(\(|$)")
SCOPE = re.compile(r"^\s*(template\s*<.*>\s*)?(namespace|class|struct|union|enum|extern\s+\"C\")\b")


def blank(text):
    """Replaces comments, string and char literals by spaces, keeping newlines."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = ")" + m.group(1) + '"'
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = blank(f.read())
    # Preprocessor lines do not open scopes.
    text = re.sub(r"(?m)^\s*#.*(\\\n.*)*", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    stack = []  # (kind, start_line, name)
    stmt = []  # text since the last ; { } at the current level
    stmt_line = 1
    line = 1
    for c in text:
        if c == "\n":
            line += 1
        if c == "{":
            head = " ".join("".join(stmt).split())
            in_func = any(k == "func" for k, _, _ in stack)
            if in_func:
                kind = "block"
            elif SCOPE.match(head):
                kind = "scope"
            elif head.endswith(")") or re.search(r"\)\s*(const|noexcept|override|final|->.*|:.*)\s*$", head):
                kind = "func" if not CONTROL.search(head) else "block"
            else:
                kind = "block"
            name = ""
            if kind == "func":
                m = re.search(r"([~\w:]+(?:operator\s*\S+?)?)\s*\(", head)
                name = m.group(1) if m else head[:40]
            stack.append((kind, stmt_line if kind == "func" else line, name))
            stmt, stmt_line = [], line
        elif c == "}":
            if stack:
                kind, start, name = stack.pop()
                if kind == "func":
                    yield name, start, line - start + 1
            stmt, stmt_line = [], line
        elif c == ";":
            stmt, stmt_line = [], line
        else:
            if not stmt and c.isspace():
                stmt_line = line + (1 if c == "\n" else 0)
                continue
            stmt.append(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=80)
    ap.add_argument("--all", action="store_true")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    files = []
    for p in args.paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, x) for x in names if x.endswith((".c", ".h", ".cpp", ".hpp"))]
        else:
            files.append(p)
    over = 0
    for path in sorted(files):
        for name, start, length in functions(path):
            if length > args.max or args.all:
                print(f"{length:5d} {path}:{start} {name}")
            over += length > args.max
    print(f"{over} function(s) over {args.max} lines in {len(files)} file(s)", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

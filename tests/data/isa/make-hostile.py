#!/usr/bin/env python3
"""Writes the hostile isa inputs of tests/suites/36-isa.sh into OUTDIR, from the hipcc fixtures in
FIXDIR (tests/data/isa/make-fixtures.sh). Usage: make-hostile.py FIXDIR OUTDIR
  bomb.ccob         64-byte zstd CCOB (v2) whose header claims 4 GiB - 1 uncompressed bytes
  lying.ccob        zstd CCOB whose header claims 100000 bytes (within the ratio cap) for 32
  bombs-in-host.elf three such bundles appended to the k1010 host executable (outside its sections)
  ff-text.co        gfx1030.co (audited for gfx1010) with .text overwritten by 0xFF bytes
  sym-outside.co    gfx1030.co with every function symbol pointing past the end of .text
  zero-entry.hipfb  multi.hipfb with the gfx1010 entry's size set to 0
"""
import struct
import subprocess
import sys

fix, out = sys.argv[1], sys.argv[2]


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-19"], input=data, capture_output=True, check=True).stdout


def ccob_bomb():
    frame = zstd(b"__CLANG_OFFLOAD_BUNDLE__" + b"\0" * 8)
    header_len = 24
    total = header_len + len(frame)
    blob = b"CCOB" + struct.pack("<HHIIQ", 2, 1, total, 0xFFFFFFFF, 0) + frame
    return blob + b"\0" * (64 - len(blob)) if len(blob) < 64 else blob


def sections(elf):
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    secs = []
    for i in range(shnum):
        name, typ, flags, addr, off, size, link, info, align, entsize = struct.unpack_from(
            "<IIQQQQIIQQ", elf, shoff + i * shentsize)
        secs.append(dict(name=name, type=typ, addr=addr, off=off, size=size, link=link, entsize=entsize))
    strtab = secs[shstrndx]
    for s in secs:
        end = elf.index(b"\0", strtab["off"] + s["name"])
        s["name"] = elf[strtab["off"] + s["name"]:end].decode()
    return secs


def ccob_lying():
    frame = zstd(b"__CLANG_OFFLOAD_BUNDLE__" + b"\0" * 8)
    return b"CCOB" + struct.pack("<HHIIQ", 2, 1, 24 + len(frame), 100000, 0) + frame


open(f"{out}/lying.ccob", "wb").write(ccob_lying())
bomb = ccob_bomb()
open(f"{out}/bomb.ccob", "wb").write(bomb)
host = bytearray(open(f"{fix}/k1010", "rb").read())
for _ in range(3):
    host += b"\0" * (-len(host) % 4096) + bomb
open(f"{out}/bombs-in-host.elf", "wb").write(host)

co = bytearray(open(f"{fix}/gfx1030.co", "rb").read())
text = next(s for s in sections(co) if s["name"] == ".text")
ff = bytearray(co)
ff[text["off"]:text["off"] + text["size"]] = b"\xff" * text["size"]
open(f"{out}/ff-text.co", "wb").write(ff)

sym = bytearray(co)
symtab = next(s for s in sections(co) if s["type"] == 2)
moved = 0
for k in range(symtab["size"] // symtab["entsize"]):
    at = symtab["off"] + k * symtab["entsize"]
    info = sym[at + 4]
    if info & 0xF == 2:  # STT_FUNC
        struct.pack_into("<Q", sym, at + 8, text["addr"] + text["size"] + 0x100000)
        moved += 1
assert moved > 0, "no function symbol in gfx1030.co"
open(f"{out}/sym-outside.co", "wb").write(sym)

fb = bytearray(open(f"{fix}/multi.hipfb", "rb").read())
n, = struct.unpack_from("<Q", fb, 24)
p = 32
for _ in range(n):
    off, size, idlen = struct.unpack_from("<QQQ", fb, p)
    ident = fb[p + 24:p + 24 + idlen].decode()
    if ident.endswith("gfx1010"):
        struct.pack_into("<Q", fb, p + 8, 0)
    p += 24 + idlen
open(f"{out}/zero-entry.hipfb", "wb").write(fb)

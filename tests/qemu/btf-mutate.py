#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Write a copy of amdgpu.ko whose .BTF differs from the real one in exactly one hook assumption.

The QEMU suite builds rdna1_vmfix against each copy and boots it next to the real amdgpu: whatever the
copy claims, the module must refuse to arm (the derivation follows the changed BTF, and the BTF no
longer matches /sys/kernel/btf/amdgpu).

usage: btf-mutate.py BASE_BTF AMDGPU_KO OUT_KO MUTATION
  BASE_BTF  vmlinux (ELF with .BTF) or raw base BTF of the same kernel (for its string table size)
  MUTATION  flags-index  amdgpu_vm_ptes_update(params, start, end, flags, dst): flags becomes argument 3
            flags-type   the flags argument of amdgpu_vm_ptes_update becomes a pointer
            adev-offset  amdgpu_vm_update_params.adev and .vm swap offsets: adev at byte 8
            other-build  an unused member offset changes: same hook ABI, another module
"""
import struct
import subprocess
import sys
import tempfile
import os

KIND_SIZES = {1: 4, 3: 12, 14: 4, 17: 4}  # INT, ARRAY, VAR, DECL_TAG: fixed extra bytes
PER_VLEN = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}  # STRUCT UNION ENUM FUNC_PROTO DATASEC ENUM64


def section(path, name):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "sec")
        subprocess.run(["objcopy", "--dump-section", f"{name}={out}", path, os.path.join(d, "scratch")],
                       check=True, stderr=subprocess.DEVNULL)
        with open(out, "rb") as f:
            return f.read()


def header(btf):
    magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", btf)
    if magic != 0xEB9F:
        sys.exit("not BTF")
    return hdr_len, type_off, type_len, str_off, str_len


def base_info(path):
    with open(path, "rb") as f:
        raw = f.read()
    btf = raw if raw[:2] == b"\x9f\xeb" else section(path, ".BTF")
    hdr_len, type_off, type_len, _str_off, str_len = header(btf)
    count, pos, end = 0, hdr_len + type_off, hdr_len + type_off + type_len
    while pos < end:
        pos = skip_type(btf, pos)
        count += 1
    return count, str_len


def skip_type(btf, pos):
    info = struct.unpack_from("<I", btf, pos + 4)[0]
    kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
    return pos + 12 + KIND_SIZES.get(kind, 0) + PER_VLEN.get(kind, 0) * vlen


class Split:
    def __init__(self, btf, base_count, base_strlen):
        self.btf = bytearray(btf)
        hdr_len, type_off, type_len, str_off, _ = header(btf)
        self.strs = hdr_len + str_off
        self.base_strlen = base_strlen
        self.types = {}  # id -> offset
        pos, end, tid = hdr_len + type_off, hdr_len + type_off + type_len, base_count
        while pos < end:
            self.types[tid] = pos
            pos = skip_type(self.btf, pos)
            tid += 1

    def name(self, off):
        if off < self.base_strlen:
            return None  # a base string: never one of the names looked up here
        start = self.strs + off - self.base_strlen
        return bytes(self.btf[start:self.btf.index(0, start)]).decode()

    def find(self, kind, name):
        for tid, pos in self.types.items():
            name_off, info = struct.unpack_from("<II", self.btf, pos)
            if (info >> 24) & 0x1F == kind and self.name(name_off) == name:
                return tid, pos
        sys.exit(f"no {name} in the BTF")

    def members(self, pos, width):
        vlen = struct.unpack_from("<I", self.btf, pos + 4)[0] & 0xFFFF
        return [pos + 12 + i * width for i in range(vlen)]

    def proto_params(self, func):
        _, fpos = self.find(12, func)
        proto = struct.unpack_from("<I", self.btf, fpos + 8)[0]
        return self.members(self.types[proto], 8)


def swap(buf, a, b, size):
    buf[a:a + size], buf[b:b + size] = buf[b:b + size], buf[a:a + size]


def mutate(s, what):
    if what == "flags-index":
        params = s.proto_params("amdgpu_vm_ptes_update")
        swap(s.btf, params[3], params[4], 8)
    elif what == "flags-type":
        params = s.proto_params("amdgpu_vm_ptes_update")
        s.btf[params[4] + 4:params[4] + 8] = s.btf[params[0] + 4:params[0] + 8]
    elif what == "adev-offset":
        _, pos = s.find(4, "amdgpu_vm_update_params")
        m = s.members(pos, 12)
        # swap the offsets (third word) of the first two members, adev and vm
        swap(s.btf, m[0] + 8, m[1] + 8, 4)
    elif what == "other-build":
        _, pos = s.find(4, "amdgpu_vm_update_params")
        last = s.members(pos, 12)[-1]
        off = struct.unpack_from("<I", s.btf, last + 8)[0]
        struct.pack_into("<I", s.btf, last + 8, off + 64)
    else:
        sys.exit(f"unknown mutation {what}")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    base, ko, out, what = sys.argv[1:]
    count, strlen = base_info(base)
    s = Split(section(ko, ".BTF"), count + 1, strlen)
    mutate(s, what)
    with tempfile.NamedTemporaryFile(suffix=".btf") as t:
        t.write(s.btf)
        t.flush()
        subprocess.run(["objcopy", "--update-section", f".BTF={t.name}", ko, out], check=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes one patch series (git format-patch files) from the fragments in this directory.

Usage: gen-series.py SERIES TREE OUTDIR
  SERIES  6.1, 6.12 or 7.x
  TREE    a pristine linux-source tree of that range (at least drivers/gpu/drm/amd/amdgpu)
  OUTDIR  receives 0001-*.patch, 0002-*.patch (old *.patch files there are removed)

The edits are anchored on exact text of each range's files and fail loudly when an anchor is
missing or ambiguous. Author, dates and the From line are fixed, so the output is reproducible:
scripts/patches-regen.sh --check compares it with the committed series.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
AMDGPU = "drivers/gpu/drm/amd/amdgpu/"
AUTHOR = ("rdna1-vmfix developers", "rdna1-vmfix@users.noreply.invalid")
DATE = "Wed, 25 Nov 2026 19:30:00 +0000"

# Per range: (anchor after which the variables go, anchor after which the externs go,
# whether the range predates the 2-argument AMDGPU_PTE_MTYPE_NV10() and amdgpu_ip_version(),
# Debian linux-source versions the series was checked on).
RANGES = {
    "6.1": ("int amdgpu_sg_display = -1; /* auto */\n", "extern int amdgpu_sg_display;\n",
            True, "6.1.192"),
    "6.12": ("int amdgpu_umsch_mm_fwlog;\n", "extern int amdgpu_wbrf;\n",
             False, "6.12.95"),
    "7.x": ("int amdgpu_ptl = -1; /* auto */\n", "extern int amdgpu_ptl;\n",
            False, "7.2.13 and 7.3~rc7"),
}
DEFS = ("int amdgpu_rdna1_mtype = 2; /* enforce */\n"
        "int amdgpu_rdna1_mtype_cc;\n"
        "int amdgpu_rdna1_mtype_coherent;\n")
EXTERNS = ("extern int amdgpu_rdna1_mtype;\n"
           "extern int amdgpu_rdna1_mtype_cc;\n"
           "extern int amdgpu_rdna1_mtype_coherent;\n")
UNSUPPORTED = "/* These devices are not supported by amdgpu.\n"
CSA_NOTE = (" (and, on this kernel, for the static CSA mapping with amdgpu.mcbp=1 or SR-IOV,"
            " whose PTE is not valid)")


def frag(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def once(text, old, new):
    if text.count(old) != 1:
        sys.exit("gen-series: anchor found %d times: %r" % (text.count(old), old[:60]))
    return text.replace(old, new, 1)


def helpers(old_macros):
    """The gmc_v10_0 helpers; 6.1 spells the MTYPE and IP version accessors the old way."""
    text = frag("helpers.c")
    if not old_macros:
        return text
    for old, new in (
            ("amdgpu_ip_version(adev, GC_HWIP, 0)", "adev->ip_versions[GC_HWIP][0]"),
            ("\t    AMDGPU_PTE_MTYPE_NV10_SHIFT(MTYPE_CC))\n"
             "\t\tflags = AMDGPU_PTE_MTYPE_NV10(flags,\n"
             "\t\t\t\t\t      cc_to_uc ? MTYPE_UC : MTYPE_NC);\n",
             "\t    AMDGPU_PTE_MTYPE_NV10(MTYPE_CC)) {\n"
             "\t\tflags &= ~AMDGPU_PTE_MTYPE_NV10_MASK;\n"
             "\t\tflags |= AMDGPU_PTE_MTYPE_NV10(cc_to_uc ? MTYPE_UC : MTYPE_NC);\n"
             "\t}\n"),
            ("\tif (coherent_all && system)\n"
             "\t\tflags = AMDGPU_PTE_MTYPE_NV10(flags, MTYPE_UC);\n",
             "\tif (coherent_all && system) {\n"
             "\t\tflags &= ~AMDGPU_PTE_MTYPE_NV10_MASK;\n"
             "\t\tflags |= AMDGPU_PTE_MTYPE_NV10(MTYPE_UC);\n"
             "\t}\n"),
            ("AMDGPU_PTE_MTYPE_NV10_SHIFT(MTYPE_UC)", "AMDGPU_PTE_MTYPE_NV10(MTYPE_UC)")):
        text = once(text, old, new)
    return text


def reflow(msg):
    """Rewraps plain paragraphs to 72 columns; lists, indented blocks and tags stay as written."""
    out = []
    for para in msg.split("\n\n"):
        lines = para.split("\n")
        keep = any(l[:1] in (" ", "\t") or l[:2] in ("1.", "2.", "3.") or
                   l.startswith("Signed-off-by:") for l in lines)
        out.append(para if keep else textwrap.fill(" ".join(lines), 72, break_on_hyphens=False,
                                                   break_long_words=False))
    return "\n\n".join(out)


def edit_params(drv, hdr, defs_anchor, ext_anchor):
    drv = once(drv, defs_anchor, defs_anchor + DEFS)
    drv = once(drv, UNSUPPORTED, frag("params.c") + "\n" + UNSUPPORTED)
    return drv, once(hdr, ext_anchor, ext_anchor + EXTERNS)


def edit_gmc(gmc, series, helper_text):
    if series != "7.x":
        # 6.x: the helpers go before map_mtype, which applies the CC rule for KFD SVM
        cc = "AMDGPU_PTE_MTYPE_NV10(MTYPE_CC)" if series == "6.1" else \
            "AMDGPU_PTE_MTYPE_NV10(0ULL, MTYPE_CC)"
        head = "static uint64_t gmc_v10_0_map_mtype(struct amdgpu_device *adev, uint32_t flags)\n{\n"
        gmc = once(gmc, head, helper_text + head + "\tu64 pte_flags;\n\n")
        gmc = once(gmc, "\tcase AMDGPU_VM_MTYPE_CC:\n\t\treturn %s;\n" % cc,
                   "\tcase AMDGPU_VM_MTYPE_CC:\n"
                   "\t\tpte_flags = %s;\n"
                   "\t\t/* SVM ranges never reach get_vm_pte(), apply the CC rule here */\n"
                   "\t\tif (amdgpu_rdna1_mtype == GMC_V10_0_RDNA1_ENFORCE)\n"
                   "\t\t\tgmc_v10_0_rdna1_fixup_pte(adev, &pte_flags);\n"
                   "\t\treturn pte_flags;\n" % cc)
    else:
        gmc = once(gmc, "static void gmc_v10_0_get_vm_pde(",
                   helper_text + "static void gmc_v10_0_get_vm_pde(")
    start = gmc.index("static void gmc_v10_0_get_vm_pte(")
    end = gmc.index("\n}\n", start)
    gmc = gmc[:end] + "\n\n\tgmc_v10_0_rdna1_fixup_pte(adev, flags);" + gmc[end:]
    start = gmc.index("static int gmc_v10_0_early_init(")
    umc = "\tgmc_v10_0_set_umc_funcs(adev);\n"
    end = gmc.index(umc, start) + len(umc)
    return gmc[:end] + "\tgmc_v10_0_rdna1_mtype_init(adev);\n" + gmc[end:]


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in RANGES:
        sys.exit(__doc__)
    series, tree, outdir = sys.argv[1:]
    defs_anchor, ext_anchor, old_macros, tested = RANGES[series]
    env = dict(os.environ, GIT_AUTHOR_NAME=AUTHOR[0], GIT_AUTHOR_EMAIL=AUTHOR[1],
               GIT_COMMITTER_NAME=AUTHOR[0], GIT_COMMITTER_EMAIL=AUTHOR[1],
               GIT_AUTHOR_DATE=DATE, GIT_COMMITTER_DATE=DATE, GIT_CONFIG_NOSYSTEM="1",
               HOME=tempfile.gettempdir())
    with tempfile.TemporaryDirectory() as git:
        def run(*args):
            return subprocess.run(["git", "-C", git, *args], check=True, env=env,
                                  capture_output=True, text=True).stdout

        def read(name):
            with open(os.path.join(git, AMDGPU, name)) as f:
                return f.read()

        def write(name, text):
            with open(os.path.join(git, AMDGPU, name), "w") as f:
                f.write(text)

        os.makedirs(os.path.join(git, AMDGPU))
        for name in ("amdgpu_drv.c", "amdgpu.h", "gmc_v10_0.c"):
            shutil.copy(os.path.join(tree, AMDGPU, name), os.path.join(git, AMDGPU, name))
        run("init", "-q")
        run("add", ".")
        run("commit", "-q", "-m", "base")
        base = run("rev-parse", "HEAD").strip()

        drv, hdr = edit_params(read("amdgpu_drv.c"), read("amdgpu.h"), defs_anchor, ext_anchor)
        write("amdgpu_drv.c", drv)
        write("amdgpu.h", hdr)
        msg1 = os.path.join(git, ".git", "MSG1")
        with open(msg1, "w") as f:
            f.write(frag("msg-1.txt"))
        run("commit", "-q", "-a", "-F", msg1)

        write("gmc_v10_0.c", edit_gmc(read("gmc_v10_0.c"), series, helpers(old_macros)))
        msg = frag("msg-2-head.txt").replace("%CSA%", CSA_NOTE if series == "7.x" else "")
        msg += frag("msg-2-7x.txt" if series == "7.x" else "msg-2-6x.txt")
        msg += frag("msg-2-tail.txt").replace("%VER%", tested)
        msg2 = os.path.join(git, ".git", "MSG2")
        with open(msg2, "w") as f:
            f.write(reflow(msg))
        run("commit", "-q", "-a", "-F", msg2)

        os.makedirs(outdir, exist_ok=True)
        for name in os.listdir(outdir):
            if name.endswith(".patch"):
                os.unlink(os.path.join(outdir, name))
        run("format-patch", "-q", "--zero-commit", "--no-signature", "-n", "-o",
            os.path.abspath(outdir), base + "..HEAD")


if __name__ == "__main__":
    main()

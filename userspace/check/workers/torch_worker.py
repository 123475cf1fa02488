# SPDX-License-Identifier: GPL-2.0 OR MIT
"""rdna1-vmfix torch worker: the child side of `rdna1-vmfix check --backend=torch`.

It tests the user's own PyTorch stack (torch.nn.functional.conv2d forward and backward, through
cuDNN or MIOpen and torch's own kernels) and speaks the protocol of the C++ workers
(userspace/harness/worker.cpp), so the driver isolates, times out and classifies it the same way:

  torch_worker.py --probe               one line "VMFIX-PROBE {json}"; exit 3 without a device
  torch_worker.py --list PROFILE        one line per case "VMFIX-CASE {json}" (the torch case table)
  torch_worker.py --run ID...           per case "VMFIX-BEGIN ID" then "VMFIX-RESULT {json}"
  option --device=gpu|cpu (default gpu): cpu runs the CPU device of any torch build, labelled so
  (the CI pipeline check on Debian's CPU-only python3-torch; no GPU code runs there).

Exit codes: 0 every case ran (verdicts in the lines), 2 usage, 3 no device (or no torch),
4 runtime error ("VMFIX-ERROR api: name: text" on stderr first; a broken torch import is one).
Run by the user's interpreter (python3 >= 3.8), so it keeps to the standard library and torch.
"""

import json
import math
import os
import sys
import time

EXIT_USAGE = 2
EXIT_NO_DEVICE = 3
EXIT_RUNTIME = 4

# ---------------------------------------------------------------------------------------------
# The case table. Shapes: the C++ table (userspace/harness/cases.cpp, same names and numbers), plus
# the layer kinds of public RDNA1 crash reports the C++ kernels cannot express (dilation, groups)
# and a cropped 7x7/2 stem for the quick profile.
# name, origin, c, h, w, k, r, s, stride, pad, dilation, groups, big
SHAPES = [
    ("mbv2_conv1", "MobileNetV2 conv1 (3x3/2, 224x224)", 3, 224, 224, 32, 3, 3, 2, 1, 1, 1, False),
    ("mbv2_pw_project", "MobileNetV2 block 16 project 1x1 (7x7)", 960, 7, 7, 160, 1, 1, 1, 0, 1, 1, False),
    ("mbv2_pw_expand", "MobileNetV2 block 2 expand 1x1 (56x56)", 24, 56, 56, 144, 1, 1, 1, 0, 1, 1, False),
    ("mbv2_dw_c960", "MobileNetV2 block 16 depthwise 3x3 (7x7)", 960, 7, 7, 960, 3, 3, 1, 1, 1, 960, False),
    ("mbv2_dw_s2_c144", "MobileNetV2 block 3 depthwise 3x3/2 (56x56)", 144, 56, 56, 144, 3, 3, 2, 1, 1, 144, False),
    ("unet_mid_3x3", "UNet encoder 3x3, 64->64 (cropped to 32x32)", 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, False),
    ("unet_out_1x1", "UNet output 1x1, 64->2 classes (cropped to 64x64)", 64, 64, 64, 2, 1, 1, 1, 0, 1, 1, False),
    ("r50_conv1", "ResNet-50 conv1 (7x7/2, 224x224)", 3, 224, 224, 64, 7, 7, 2, 3, 1, 1, True),
    ("r50_res2_3x3", "ResNet-50 res2 3x3 (56x56)", 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, True),
    ("r50_res2_1x1_reduce", "ResNet-50 res2 1x1 reduce 256->64 (56x56)", 256, 56, 56, 64, 1, 1, 1, 0, 1, 1, True),
    ("r50_res3_3x3_s2", "ResNet-50 res3 3x3/2 (56x56 -> 28x28)", 128, 56, 56, 128, 3, 3, 2, 1, 1, 1, True),
    ("r50_res4_3x3", "ResNet-50 res4 3x3 (14x14)", 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, True),
    ("r50_res5_3x3", "ResNet-50 res5 3x3 (7x7)", 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, True),
    ("r50_res5_1x1_expand", "ResNet-50 res5 1x1 expand 512->2048 (7x7)", 512, 7, 7, 2048, 1, 1, 1, 0, 1, 1, True),
    ("unet_dec_3x3", "UNet decoder 3x3, 128->64 (cropped to 32x32)", 128, 32, 32, 64, 3, 3, 1, 1, 1, 1, True),
    # Torch-only layer kinds (the report shapes: 7x7/2 stem, dilated, grouped).
    ("r50_conv1_crop", "ResNet-50 conv1 7x7/2 stem (cropped to 64x64)", 3, 64, 64, 64, 7, 7, 2, 3, 1, 1, False),
    ("deeplab_aspp_d2", "DeepLabV3 ASPP-style 3x3 dilation 2 (64->64, 28x28)", 64, 28, 28, 64, 3, 3, 1, 2, 2, 1, False),
    ("resnext_g32_3x3", "ResNeXt-50 32x4d res2 grouped 3x3, 32 groups (cropped to 28x28)", 128, 28, 28, 128, 3, 3, 1, 1, 1, 32, False),
    ("deeplab_aspp_d12", "DeepLabV3 ASPP 3x3 dilation 12, 2048->256 (33x33)", 2048, 33, 33, 256, 3, 3, 1, 12, 12, 1, True),
    ("resnext_g32_res3", "ResNeXt-50 32x4d res3 grouped 3x3/2, 32 groups (56x56 -> 28x28)", 256, 56, 56, 256, 3, 3, 2, 1, 1, 32, True),
]
SHAPE = {s[0]: s for s in SHAPES}
QUICK_SHAPES = ["mbv2_conv1", "mbv2_pw_project", "mbv2_dw_c960", "r50_conv1_crop", "deeplab_aspp_d2", "resnext_g32_3x3"]
# Memory kinds are exercised on forward fp32 NCHW cases of these shapes (quick) or every small shape (full).
QUICK_MEM_SHAPES = ["mbv2_conv1", "mbv2_dw_c960"]

PASSES = ["fwd", "dgrad", "wgrad"]  # forward, input gradient, weight gradient
DTYPES = ["fp32", "fp16", "bf16"]
LAYOUTS = ["nchw", "nhwc"]          # contiguous and torch.channels_last
ALGOS = ["heur", "bench"]            # torch.backends.cudnn.benchmark off / on (heuristic vs measured solver)
MEMS = ["device", "pinned_staged", "pinned_mapped", "registered", "dev_fine", "dev_uncached", "managed"]
PLANTS = ["segv", "hang", "wrong", "gpu_fault"]
PLANT_SHAPE = "unet_out_1x1"

# |got - ref| <= atol + rtol*|ref|. fp32 and fp16 as in the C++ harness (cases.cpp); bf16 keeps the
# same margin over its storage rounding (2^-9 relative, four times fp16's 2^-11).
TOLERANCE = {"fp32": (1e-4, 1e-4), "fp16": (2e-3, 2e-3), "bf16": (8e-3, 8e-3)}
# The weight gradient reduces over every output position (784 to 12544 terms here), and libraries may
# round partial sums to the storage type there: cuDNN 9.19's fp16 channels-last depthwise wgrad came
# to 2.4 times the fp16 tolerance on the lab H200 (docs/hardware-validation.md). Half types get four
# times their tolerance for wgrad; faults and wrong code give errors of O(1), far outside either.
WGRAD_HALF_FACTOR = 4.0


def tolerance(dt, p):
    atol, rtol = TOLERANCE[dt]
    if p == "wgrad" and dt != "fp32":
        return atol * WGRAD_HALF_FACTOR, rtol * WGRAD_HALF_FACTOR
    return atol, rtol

DOCTOR_ADVICE = (
    "Use builds with native {gfx} code objects: TheRock's torch[device-gfx1010] wheels (gfx101X builds), "
    "Debian's ROCm packages (built for gfx1010), or a source build with --offload-arch={gfx}; `rdna1-vmfix isa LIB` "
    "shows what a library contains. Do not work around it with HSA_OVERRIDE_GFX_VERSION=10.3.0: gfx1030 code is "
    "not gfx1010 code.")


def case_id(p, dt, lay, algo, shape, mem):
    return ".".join((p, dt, lay, algo, shape, mem))


def profile_cases(profile):
    """Every case id of a profile, in run order (planted cases are not included)."""
    if profile not in ("quick", "full"):
        return None
    names = QUICK_SHAPES if profile == "quick" else [s[0] for s in SHAPES]
    out = []
    for name in names:
        for p in PASSES:
            for dt in DTYPES:
                for lay in LAYOUTS:
                    for algo in ALGOS:
                        out.append(case_id(p, dt, lay, algo, name, "device"))
    mem_shapes = QUICK_MEM_SHAPES if profile == "quick" else [s[0] for s in SHAPES if not s[12]]
    for name in mem_shapes:
        for mem in MEMS[1:]:
            out.append(case_id("fwd", "fp32", "nchw", "heur", name, mem))
    return out


def parse_case_id(cid):
    """The case a case id names, as a dict, or None."""
    if cid.startswith("planted."):
        plant = cid[len("planted."):]
        if plant not in PLANTS:
            return None
        return {"id": cid, "plant": plant, "pass": "fwd", "dtype": "fp32", "layout": "nchw", "algo": "heur",
                "shape": PLANT_SHAPE, "mem": "device"}
    parts = cid.split(".")
    if len(parts) != 6:
        return None
    p, dt, lay, algo, shape, mem = parts
    if p not in PASSES or dt not in DTYPES or lay not in LAYOUTS or algo not in ALGOS or shape not in SHAPE or mem not in MEMS:
        return None
    return {"id": cid, "plant": None, "pass": p, "dtype": dt, "layout": lay, "algo": algo, "shape": shape, "mem": mem}


def shape_json(name):
    n, origin, c, h, w, k, r, s, stride, pad, dil, groups, big = SHAPE[name]
    return {"name": n, "origin": origin, "c": c, "h": h, "w": w, "k": k, "r": r, "s": s, "stride": stride, "pad": pad,
            "dilation": dil, "groups": groups, "depthwise": groups == c and groups == k and groups > 1, "big": big}


def out_shape(name, p):
    """The shape of what a pass produces: y, dL/dx or dL/dw."""
    _, _, c, h, w, k, r, s, _, _, _, g, _ = SHAPE[name]
    if p == "fwd":
        return (1, k) + out_hw(name)
    return (1, c, h, w) if p == "dgrad" else (k, c // g, r, s)


def out_hw(name):
    _, _, c, h, w, k, r, s, stride, pad, dil, _, _ = SHAPE[name]
    return ((h + 2 * pad - dil * (r - 1) - 1) // stride + 1, (w + 2 * pad - dil * (s - 1) - 1) // stride + 1)


# ---------------------------------------------------------------------------------------------
# Architectures: does the build carry code for the device?

def strip_features(arch):
    return arch.split(":")[0].strip()


def arch_in_build(device_arch, arch_list):
    """True when the build's architecture list can run on device_arch (gfxNNNN or sm_NN)."""
    dev = strip_features(device_arch)
    archs = [strip_features(a) for a in arch_list]
    if dev.startswith("sm_"):
        try:
            cap = int(dev[3:])
        except ValueError:
            return False
        for a in archs:
            # sm_XY cubins run on the same major with minor >= Y; compute_XY PTX is JIT-compiled for newer.
            if a.startswith("sm_") and a[3:].isdigit() and int(a[3:]) // 10 == cap // 10 and int(a[3:]) <= cap:
                return True
            if a.startswith("compute_") and a[8:].isdigit() and int(a[8:]) <= cap:
                return True
        return False
    return dev in archs


def code_object_check(device_arch, arch_list, override):
    """None when the build carries code for the device (or an override makes the runtime claim another
    target), else the missing-code-object reason, with doctor's advice."""
    if not device_arch or device_arch == "cpu" or not arch_list:
        return None
    if override:
        return None  # the runtime reports the overridden target; the override experiment judges that
    if arch_in_build(device_arch, arch_list):
        return None
    gfx = strip_features(device_arch)
    return ("this torch carries no code objects for {} (torch.cuda.get_arch_list(): {}); nothing was run. {}"
            .format(gfx, " ".join(arch_list), DOCTOR_ADVICE.format(gfx=gfx)))


# ---------------------------------------------------------------------------------------------
# Output helpers.

def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def die_runtime(api, name, text):
    sys.stdout.flush()
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    sys.stderr.write("VMFIX-ERROR {}: {}: {}\n".format(api, name, first))
    rest = str(text).strip()
    if rest and rest != first:
        sys.stderr.write(rest + "\n")
    sys.stderr.flush()
    sys.exit(EXIT_RUNTIME)


def finite(x):
    if x != x or x in (float("inf"), float("-inf")):
        return 1e300
    return min(x, 1e300)


# ---------------------------------------------------------------------------------------------

class Worker:
    def __init__(self, torch, device_kind):
        self.torch = torch
        import torch.nn.functional as F  # noqa: N812 (the usual name)
        self.F = F
        self.kind = device_kind
        self.ref_mem = {}
        self.hip = getattr(torch.version, "hip", None)
        self.cuda = torch.version.cuda
        if device_kind == "gpu":
            self.dev = torch.device("cuda", 0)
            # TF32 is not fp32 (and RDNA1 has none): fp32 cases must be fp32 to meet the fp32 tolerance.
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        else:
            self.dev = torch.device("cpu")
        self.info = self._device_info()

    # -- probe --------------------------------------------------------------------------------
    def _device_info(self):
        torch = self.torch
        info = {"backend": "torch", "torch_version": torch.__version__, "torch_path": os.path.dirname(torch.__file__),
                "torch_hip": self.hip, "torch_cuda": self.cuda, "python": sys.executable,
                "python_version": "{}.{}.{}".format(*sys.version_info[:3]),
                "hsa_override_gfx_version": os.environ.get("HSA_OVERRIDE_GFX_VERSION") or None}
        if self.kind == "cpu":
            info.update({"device": "cpu (torch CPU device: checks the pipeline, runs no GPU code)", "arch": "cpu",
                         "device_kind": "cpu", "arch_list": [], "dnn_library": None, "dnn_version": None,
                         "mkldnn": bool(torch.backends.mkldnn.is_available()),
                         "threads": torch.get_num_threads()})
            return info
        props = torch.cuda.get_device_properties(0)
        arch = getattr(props, "gcnArchName", None) if self.hip else None
        if not arch:
            arch = "sm_{}{}".format(props.major, props.minor)
        try:
            arch_list = list(torch.cuda.get_arch_list())
        except Exception:  # noqa: BLE001 (an old torch without it: report what is known)
            arch_list = []
        dnn_version = None
        try:
            if torch.backends.cudnn.is_available():
                dnn_version = torch.backends.cudnn.version()
        except Exception:  # noqa: BLE001
            dnn_version = None
        info.update({"device": props.name, "arch": arch, "device_kind": "gpu", "arch_list": arch_list,
                     "dnn_library": "MIOpen" if self.hip else "cuDNN", "dnn_version": dnn_version,
                     "compute_capability": "{}.{}".format(props.major, props.minor),
                     "total_memory_mib": props.total_memory // (1 << 20), "tf32": "off (set by the harness)"})
        return info

    def fake_arch_for_tests(self):
        """Test seam (CPU device only): VMFIX_TORCH_TEST_ARCH / _ARCH_LIST pretend a GPU target and a build's
        list, so CI can drive the missing-code-object path without a GPU."""
        if self.kind != "cpu":
            return
        a = os.environ.get("VMFIX_TORCH_TEST_ARCH")
        if a:
            self.info["arch"] = a
            self.info["arch_list"] = [x for x in os.environ.get("VMFIX_TORCH_TEST_ARCH_LIST", "").split(",") if x]

    def probe_json(self):
        d = dict(self.info)
        # No kernel runs here: the probe must answer even where every kernel would fault.
        d["missing_code_object"] = code_object_check(d["arch"], d["arch_list"], d["hsa_override_gfx_version"])
        if self.kind == "gpu":
            d["bf16_supported"] = self._bf16_gpu()
        return d

    # -- capabilities -------------------------------------------------------------------------
    def tdtype(self, dt):
        t = self.torch
        return {"fp32": t.float32, "fp16": t.float16, "bf16": t.bfloat16}[dt]

    def dtype_support(self, dt, _cache={}):  # noqa: B006 (a per-process memo on purpose)
        """"" when conv2d runs in dtype dt on this device, else why not (verdict unsupported)."""
        if dt in _cache:
            return _cache[dt]
        why = ""
        if self.kind == "gpu" and dt == "bf16" and not self._bf16_gpu():
            why = "the device has no bfloat16 support (torch.cuda.is_bf16_supported() is False)"
        if not why:
            t = self.torch
            try:
                x = t.ones((1, 1, 4, 4), dtype=self.tdtype(dt), device=self.dev, requires_grad=True)
                w = t.ones((1, 1, 3, 3), dtype=self.tdtype(dt), device=self.dev, requires_grad=True)
                self.F.conv2d(x, w).sum().backward()
                self.sync()
            except (RuntimeError, NotImplementedError) as e:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                if self.kind == "gpu" and not _is_unsupported_text(msg):
                    raise
                why = "this torch has no {} conv2d on the {} device: {}".format(dt, self.kind.upper(), msg)
        _cache[dt] = why
        return why

    def _bf16_gpu(self):
        try:
            return bool(self.torch.cuda.is_bf16_supported())
        except Exception:  # noqa: BLE001
            return False

    def sync(self):
        if self.kind == "gpu":
            self.torch.cuda.synchronize()

    def mem_label(self, mem):
        if self.kind == "cpu":
            if mem == "device":
                return "cpu: ordinary CPU tensors (the CPU device stands in for GPU memory)"
            return ""
        amd = bool(self.hip)
        labels = {
            "device": "torch CUDA/HIP caching allocator ({})".format("hipMalloc" if amd else "cudaMalloc"),
            "pinned_staged": "pin_memory() host tensors, copied to and from the device with non_blocking=True",
            "pinned_mapped": "pin_memory() host tensors ({}) read by the conv kernels in place through "
                             "__cuda_array_interface__; outputs copied into pinned memory by a device copy"
                             .format("hipHostMalloc" if amd else "cudaHostAlloc"),
            "registered": "{}(Mapped) on ordinary host memory, read in place by the conv kernels; outputs copied "
                          "back by a device copy".format("hipHostRegister" if amd else "cudaHostRegister"),
        }
        return labels.get(mem, "")

    def mem_support(self, mem):
        if mem in ("dev_fine", "dev_uncached", "managed"):
            what = {"dev_fine": "fine-grained device memory", "dev_uncached": "uncached device memory",
                    "managed": "managed (unified) memory"}[mem]
            return "torch has no API to allocate {} for its tensors (it would need a pluggable allocator)".format(what)
        if self.kind == "cpu":
            if mem == "device":
                return ""
            return "pinned and mapped host memory need a GPU build of torch with a device (CPU device here)"
        if mem == "registered":
            if self.hip:
                return ("torch exposes no hipHostGetDevicePointer: on ROCm the registered host address is not "
                        "guaranteed to be the device address")
            if not hasattr(self.torch.cuda, "cudart"):
                return "this torch has no torch.cuda.cudart() (cudaHostRegister)"
        return ""

    # -- inputs and reference -----------------------------------------------------------------
    def inputs(self, shape, dt):
        """Deterministic inputs in [-1, 1), weights and output gradients scaled so results are O(1),
        rounded to dt; returned in float64 (the values the device gets, exactly)."""
        t = self.torch
        n, _, c, h, w, k, r, s, _, _, _, g, _ = SHAPE[shape]
        oh, ow = out_hw(shape)
        seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(shape)) * 7919
        gen = t.Generator().manual_seed(seed)

        def uni(size, scale):
            v = (t.rand(size, generator=gen, dtype=t.float64) * 2 - 1) * scale
            return v.to(self.tdtype(dt)).to(t.float64)

        x = uni((1, c, h, w), 1.0)
        wt = uni((k, c // g, r, s), 1.0 / math.sqrt((c // g) * r * s))
        gout = uni((1, k, oh, ow), 1.0 / math.sqrt(max(1, (k // g) * r * s)))
        return x, wt, gout

    def reference(self, shape, dt, p):
        """The same op in float64 on the CPU; cached per process and in $VMFIX_REF_CACHE across workers."""
        key = (shape, dt, p)
        if key in self.ref_mem:
            return self.ref_mem[key]
        t = self.torch
        cache = os.environ.get("VMFIX_REF_CACHE") or ""
        path = os.path.join(cache, "torch.{}.{}.{}.pt".format(shape, dt, p)) if cache else ""
        if path and os.path.exists(path):
            try:
                ref = t.load(path)
                self.ref_mem[key] = ref
                return ref
            except Exception:  # noqa: BLE001 (a damaged cache entry is recomputed)
                pass
        _, _, _, _, _, _, _, _, stride, pad, dil, g, _ = SHAPE[shape]
        x, wt, gout = self.inputs(shape, dt)
        x.requires_grad_(True)
        wt.requires_grad_(True)
        y = self.F.conv2d(x, wt, None, stride, pad, dil, g)
        dx, dw = t.autograd.grad(y, (x, wt), gout)
        refs = {"fwd": y.detach(), "dgrad": dx.detach(), "wgrad": dw.detach()}
        for q, v in refs.items():
            self.ref_mem[(shape, dt, q)] = v
            if cache:
                qp = os.path.join(cache, "torch.{}.{}.{}.pt".format(shape, dt, q))
                tmp = "{}.{}".format(qp, os.getpid())
                try:
                    t.save(v, tmp)
                    os.replace(tmp, qp)
                except OSError:
                    pass
                finally:
                    if os.path.exists(tmp):
                        os.remove(tmp)
        return refs[p]

    # -- one case -----------------------------------------------------------------------------
    def place(self, v, case, keep):
        """Puts a float64 CPU tensor v into the case's memory kind, as its dtype and layout. Returns
        (tensor the conv uses, host tensor behind it or None); keep holds host buffers until the case ends."""
        t = self.torch
        v = v.to(self.tdtype(case["dtype"]))
        fmt = t.channels_last if case["layout"] == "nhwc" else t.contiguous_format
        mem = case["mem"]
        if mem == "device":
            return v.to(self.dev).contiguous(memory_format=fmt), None
        if mem == "pinned_staged":
            host = v.contiguous(memory_format=fmt).pin_memory()
            keep.append(host)
            return host.to(self.dev, non_blocking=True), host
        if mem == "pinned_mapped":
            host = v.contiguous(memory_format=fmt).pin_memory()
        else:  # registered
            host = v.clone(memory_format=fmt)
            rc = t.cuda.cudart().cudaHostRegister(host.data_ptr(), host.numel() * host.element_size(), 2)
            if int(rc) != 0:
                raise _Unsupported("cudaHostRegister failed ({})".format(rc))
            keep.append(_Registered(t, host))
        keep.append(host)
        return t.as_tensor(_CudaArray(host), device=self.dev), host

    def run_case(self, case, missing):
        t = self.torch
        cid = case["id"]
        emit("VMFIX-BEGIN " + cid)
        label = self.mem_label(case["mem"])
        if missing:
            emit("VMFIX-RESULT " + json.dumps({"id": cid, "verdict": "missing_code_object", "reason": missing,
                                               "memory_label": label}))
            return
        plant = case["plant"]
        if plant == "segv":
            import ctypes
            ctypes.string_at(0)  # a crash outside any kernel: the driver must report "crash" and go on
        if plant == "hang":
            while True:
                time.sleep(1)
        if plant == "gpu_fault":
            plant_kmsg_lines()
            sys.stderr.write("torch worker: emulated GPU memory access fault in planted case {} (pid {})\n"
                             .format(cid, os.getpid()))
            sys.stderr.flush()
            os.abort()
        why = self.mem_support(case["mem"]) or self.dtype_support(case["dtype"])
        if not why and case["algo"] == "bench" and self.kind == "cpu":
            why = "cudnn.benchmark selects among cuDNN/MIOpen solvers; the CPU device has none"
        if why:
            emit("VMFIX-RESULT " + json.dumps({"id": cid, "verdict": "unsupported", "reason": why,
                                               "memory_label": label}))
            return
        shape, dt, p = case["shape"], case["dtype"], case["pass"]
        _, _, _, _, _, _, _, _, stride, pad, dil, g, _ = SHAPE[shape]
        x64, w64, g64 = self.inputs(shape, dt)
        keep = []
        try:
            x = self.place(x64, case, keep)[0]
            w = self.place(w64, case, keep)[0]
            gout = self.place(g64, case, keep)[0] if p != "fwd" else None
            # Outputs land in the same memory kind: a pinned copy target, or mapped host memory that a
            # device copy kernel writes (conv2d has no out= argument).
            dst = self.place(t.zeros(out_shape(shape, p), dtype=t.float64), case, keep) if case["mem"] != "device" \
                else (None, None)
        except _Unsupported as e:
            emit("VMFIX-RESULT " + json.dumps({"id": cid, "verdict": "unsupported", "reason": str(e),
                                               "memory_label": label}))
            return
        t.backends.cudnn.benchmark = case["algo"] == "bench"
        self.sync()
        t0 = time.perf_counter()
        if p == "fwd":
            with t.no_grad():
                out = self.F.conv2d(x, w, None, stride, pad, dil, g)
        else:
            if p == "dgrad":
                x = x.detach().requires_grad_(True)
            else:
                w = w.detach().requires_grad_(True)
            y = self.F.conv2d(x, w, None, stride, pad, dil, g)
            (out,) = t.autograd.grad(y, (x if p == "dgrad" else w,), gout)
        if case["mem"] == "pinned_staged":
            dst[1].copy_(out, non_blocking=True)
            out = dst[1]
        elif case["mem"] != "device":
            dst[0].copy_(out)
            out = dst[1]
        self.sync()
        ms = (time.perf_counter() - t0) * 1000.0
        if plant == "wrong":
            out = out.clone()
            out.view(-1)[0] += 0.5
        got = out.detach().to("cpu").to(t.float64)
        ref = self.reference(shape, dt, p)
        del keep
        atol, rtol = tolerance(dt, p)
        err = (got - ref).abs()
        ratio = err / (atol + rtol * ref.abs())
        ratio = t.where(t.isnan(ratio), t.full_like(ratio, float("inf")), ratio)
        bad = int((~(ratio <= 1.0)).sum())
        worst = int(ratio.reshape(-1).argmax()) if ratio.numel() else 0
        max_err = float(t.where(t.isnan(err), t.full_like(err, float("inf")), err).max()) if err.numel() else 0.0
        emit("VMFIX-RESULT " + json.dumps({
            "id": cid, "verdict": "pass" if bad == 0 else "wrong_result", "max_abs_err": finite(max_err),
            "worst_ratio": finite(float(ratio.reshape(-1)[worst])) if ratio.numel() else 0.0,
            "bad_elements": bad, "worst_index": worst, "elements": int(ref.numel()), "atol": atol, "rtol": rtol,
            "kernel_ms": round(ms, 3), "memory_label": label}))


class _Unsupported(Exception):
    pass


class _CudaArray:
    """Exposes a host tensor's memory to torch.as_tensor(..., device=cuda) without a copy."""

    def __init__(self, host):
        typestr = {"torch.float32": "<f4", "torch.float16": "<f2", "torch.bfloat16": "<V2"}[str(host.dtype)]
        self.host = host
        self.__cuda_array_interface__ = {
            "shape": tuple(host.shape), "typestr": typestr, "data": (host.data_ptr(), False), "version": 2,
            "strides": tuple(st * host.element_size() for st in host.stride())}


class _Registered:
    """Unregisters host memory when the case drops it."""

    def __init__(self, torch, host):
        self.torch, self.ptr = torch, host.data_ptr()

    def __del__(self):
        try:
            self.torch.cuda.synchronize()
            self.torch.cuda.cudart().cudaHostUnregister(self.ptr)
        except Exception:  # noqa: BLE001 (teardown after a decided case is not a verdict)
            pass


def _is_unsupported_text(msg):
    return "not implemented for" in msg or "not supported" in msg.lower()


def is_missing_kernel_text(msg):
    """What CUDA and HIP say when a kernel has no code object for the device."""
    low = msg.lower()
    return ("no kernel image is available" in low or "invalid device function" in low
            or "hiperrornobinaryforgpu" in low or "no binary for gpu" in low)


def plant_kmsg_lines():
    """Test seam: amdgpu-style fault lines with this pid in $VMFIX_TEST_KMSG_FILE (pid attribution)."""
    path = os.environ.get("VMFIX_TEST_KMSG_FILE")
    if not path:
        return
    pid = os.getpid()
    with open(path, "a") as f:
        f.write("3,900,1000,-;amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 pasid:32770, "
                "for process python3 pid {0} thread python3 pid {0})\n"
                "3,901,1001,-;amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000000000001000 from "
                "client 0x1b (UTCL2)\n"
                "3,902,1002,-;amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00800A31\n".format(pid))


def import_torch():
    """Imports torch; exit 3 when the interpreter has none, 4 when it is there but broken."""
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError as e:
        if e.name == "torch":
            sys.stderr.write("torch worker: {} has no torch module (python {}.{}): install PyTorch for this "
                             "interpreter or pass --python\n".format(sys.executable, *sys.version_info[:2]))
            sys.exit(EXIT_NO_DEVICE)
        die_runtime("import torch", type(e).__name__, "{} (torch is installed for {} but cannot load)"
                    .format(e, sys.executable))
    except Exception as e:  # noqa: BLE001 (any failure to load is a broken installation)
        die_runtime("import torch", type(e).__name__, "{} (torch is installed for {} but cannot load)"
                    .format(e, sys.executable))
    return sys.modules["torch"]


def usage():
    sys.stderr.write("usage: torch_worker.py [--device=gpu|cpu] --probe | --list PROFILE | --run CASE_ID...\n")
    return EXIT_USAGE


def main(argv):
    device_kind = "gpu"
    args = []
    for a in argv:
        if a.startswith("--device="):
            device_kind = a.split("=", 1)[1]
        else:
            args.append(a)
    if not args or device_kind not in ("gpu", "cpu"):
        return usage()
    mode = args[0]
    if mode == "--list":
        if len(args) != 2 or profile_cases(args[1]) is None:
            return usage()
        for cid in profile_cases(args[1]):
            c = parse_case_id(cid)
            c["shape"] = shape_json(c["shape"])
            tol = tolerance(c["dtype"], c["pass"])
            c["tolerance"] = {"atol": tol[0], "rtol": tol[1]}
            emit("VMFIX-CASE " + json.dumps(c))
        return 0
    if mode not in ("--probe", "--run"):
        return usage()
    cases = []
    for cid in args[1:]:
        c = parse_case_id(cid)
        if c is None:
            sys.stderr.write("torch worker: unknown case id '{}'\n".format(cid))
            return EXIT_USAGE
        cases.append(c)
    torch = import_torch()
    if device_kind == "gpu":
        try:
            ok = torch.cuda.is_available() and torch.cuda.device_count() > 0
        except Exception as e:  # noqa: BLE001
            die_runtime("torch.cuda.is_available", type(e).__name__, e)
        if not ok:
            build = ("ROCm/HIP " + torch.version.hip if getattr(torch.version, "hip", None)
                     else "CUDA " + torch.version.cuda if torch.version.cuda else "CPU-only")
            sys.stderr.write("torch worker: no GPU device for torch {} ({} build) in {}\n"
                             .format(torch.__version__, build, sys.executable))
            return EXIT_NO_DEVICE
    try:
        w = Worker(torch, device_kind)
        w.fake_arch_for_tests()
        if mode == "--probe":
            emit("VMFIX-PROBE " + json.dumps(w.probe_json()))
            return 0
        missing = code_object_check(w.info["arch"], w.info["arch_list"], w.info["hsa_override_gfx_version"])
        for c in cases:
            try:
                w.run_case(c, missing)
            except (RuntimeError, NotImplementedError) as e:
                msg = str(e).strip()
                first = msg.splitlines()[0] if msg else type(e).__name__
                if is_missing_kernel_text(msg):
                    emit("VMFIX-RESULT " + json.dumps({
                        "id": c["id"], "verdict": "missing_code_object", "memory_label": w.mem_label(c["mem"]),
                        "reason": "the runtime found no kernel for {}: {}. {}".format(
                            w.info["arch"], first, DOCTOR_ADVICE.format(gfx=strip_features(w.info["arch"])))}))
                    continue
                if device_kind == "cpu" and _is_unsupported_text(msg):
                    emit("VMFIX-RESULT " + json.dumps({"id": c["id"], "verdict": "unsupported", "reason": first,
                                                       "memory_label": w.mem_label(c["mem"])}))
                    continue
                # A GPU error leaves the context unusable: end the worker; the driver classifies the text.
                die_runtime("torch.nn.functional.conv2d", type(e).__name__, msg)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        die_runtime("torch", type(e).__name__, e)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

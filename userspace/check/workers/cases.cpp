// SPDX-License-Identifier: GPL-2.0 OR MIT
// The case table and the CPU side of every case (inputs, reference, comparison). C++17 on purpose:
// hipcc 5.2 and nvcc compile this file into the workers, g++ into the driver.

#include "cases.hpp"

#include <cmath>
#include <cstring>

namespace vmfix::harness {
namespace {

// clang-format off
const std::vector<Shape> kShapes = {
  // name                 origin                                                     c    h    w    k    r  s  st pad dw     big
  {"mbv2_conv1",          "MobileNetV2 conv1 (3x3/2, 224x224)",                     3, 224, 224,  32, 3, 3, 2, 1, false, false},
  {"mbv2_pw_project",     "MobileNetV2 block 16 project 1x1 (7x7)",               960,   7,   7, 160, 1, 1, 1, 0, false, false},
  {"mbv2_pw_expand",      "MobileNetV2 block 2 expand 1x1 (56x56)",                24,  56,  56, 144, 1, 1, 1, 0, false, false},
  {"mbv2_dw_c960",        "MobileNetV2 block 16 depthwise 3x3 (7x7)",             960,   7,   7, 960, 3, 3, 1, 1, true,  false},
  {"mbv2_dw_s2_c144",     "MobileNetV2 block 3 depthwise 3x3/2 (56x56)",          144,  56,  56, 144, 3, 3, 2, 1, true,  false},
  {"unet_mid_3x3",        "UNet encoder 3x3, 64->64 (cropped to 32x32)",           64,  32,  32,  64, 3, 3, 1, 1, false, false},
  {"unet_out_1x1",        "UNet output 1x1, 64->2 classes (cropped to 64x64)",     64,  64,  64,   2, 1, 1, 1, 0, false, false},
  {"r50_conv1",           "ResNet-50 conv1 (7x7/2, 224x224)",                       3, 224, 224,  64, 7, 7, 2, 3, false, true},
  {"r50_res2_3x3",        "ResNet-50 res2 3x3 (56x56)",                            64,  56,  56,  64, 3, 3, 1, 1, false, true},
  {"r50_res2_1x1_reduce", "ResNet-50 res2 1x1 reduce 256->64 (56x56)",            256,  56,  56,  64, 1, 1, 1, 0, false, true},
  {"r50_res3_3x3_s2",     "ResNet-50 res3 3x3/2 (56x56 -> 28x28)",                128,  56,  56, 128, 3, 3, 2, 1, false, true},
  {"r50_res4_3x3",        "ResNet-50 res4 3x3 (14x14)",                           256,  14,  14, 256, 3, 3, 1, 1, false, true},
  {"r50_res5_3x3",        "ResNet-50 res5 3x3 (7x7)",                             512,   7,   7, 512, 3, 3, 1, 1, false, true},
  {"r50_res5_1x1_expand", "ResNet-50 res5 1x1 expand 512->2048 (7x7)",            512,   7,   7,2048, 1, 1, 1, 0, false, true},
  {"unet_dec_3x3",        "UNet decoder 3x3, 128->64 (cropped to 32x32)",         128,  32,  32,  64, 3, 3, 1, 1, false, true},
};
// clang-format on

// One row per memory kind, in enum order: its name in case ids and the HIP call that allocates it.
struct MemRow {
  Mem mem;
  const char* name;
  const char* hip_api;
};
constexpr MemRow kMems[kMemCount] = {
    {Mem::kDevCoarse, "dev_coarse", "hipMalloc"},
    {Mem::kDevFine, "dev_fine", "hipExtMallocWithFlags(hipDeviceMallocFinegrained)"},
    {Mem::kDevUncached, "dev_uncached", "hipExtMallocWithFlags(hipDeviceMallocUncached)"},
    {Mem::kHostCoherent, "host_coherent", "hipHostMalloc(hipHostMallocCoherent)"},
    {Mem::kHostNonCoherent, "host_noncoherent", "hipHostMalloc(hipHostMallocNonCoherent)"},
    {Mem::kManaged, "managed", "hipMallocManaged"},
    {Mem::kRegistered, "registered", "hipHostRegister(hipHostRegisterMapped)"},
};

constexpr bool mems_in_enum_order() {
  for (int i = 0; i < kMemCount; ++i)
    if (static_cast<int>(kMems[i].mem) != i) return false;
  return true;
}
static_assert(mems_in_enum_order(), "kMems is indexed by Mem");

const MemRow& mem_row(Mem m) { return kMems[static_cast<std::size_t>(m)]; }

// The shapes of the quick profile and, there, the kernels that run on each.
constexpr const char* kQuickShapes[] = {"mbv2_conv1", "mbv2_pw_project", "mbv2_dw_c960"};

int shape_index(const std::string& name) {
  for (std::size_t i = 0; i < kShapes.size(); ++i)
    if (name == kShapes[i].name) return static_cast<int>(i);
  return -1;
}

// Which kernels apply to a shape.
std::vector<Algo> algos_for(const Shape& s) {
  if (s.depthwise) return {Algo::kDepthwise};
  if (s.r == 1 && s.s == 1 && s.stride == 1 && s.pad == 0) return {Algo::kGemm1x1, Algo::kIgemm, Algo::kDirect};
  return {Algo::kDirect, Algo::kIgemm, Algo::kDot2};
}

std::string make_id(Algo a, DType d, int shape, Mem m) {
  return std::string(algo_name(a)) + "." + dtype_name(d) + "." + kShapes[static_cast<std::size_t>(shape)].name + "." +
         mem_name(m);
}

void add_shape_cases(std::vector<CaseSpec>& out, int si, Mem m) {
  for (Algo a : algos_for(kShapes[static_cast<std::size_t>(si)]))
    for (DType d : {DType::kFp32, DType::kFp16}) {
      if (a == Algo::kDot2 && d != DType::kFp16) continue;  // the dot kernel is fp16 by nature
      CaseSpec c;
      c.algo = a;
      c.dtype = d;
      c.shape = si;
      c.mem = m;
      c.id = make_id(a, d, si, m);
      out.push_back(c);
    }
}

// SplitMix64: deterministic, platform-independent inputs.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double unit_value(std::uint64_t seed, std::size_t i) {
  return static_cast<double>(mix(seed * 0x100000001b3ULL + i) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

// The value as stored in the dtype, back in double.
double rounded(DType d, double v) {
  if (d == DType::kFp32) return static_cast<double>(static_cast<float>(v));
  return static_cast<double>(f16_to_f32(f32_to_f16(static_cast<float>(v))));
}

void store(DType d, void* dst, std::size_t i, double v) {
  if (d == DType::kFp32) {
    const float f = static_cast<float>(v);
    std::memcpy(static_cast<char*>(dst) + i * 4, &f, 4);
  } else {
    const std::uint16_t h = f32_to_f16(static_cast<float>(v));
    std::memcpy(static_cast<char*>(dst) + i * 2, &h, 2);
  }
}

double load(DType d, const void* src, std::size_t i) {
  if (d == DType::kFp32) {
    float f;
    std::memcpy(&f, static_cast<const char*>(src) + i * 4, 4);
    return f;
  }
  std::uint16_t h;
  std::memcpy(&h, static_cast<const char*>(src) + i * 2, 2);
  return f16_to_f32(h);
}

double input_value(const CaseSpec& c, std::size_t i) {
  return rounded(c.dtype, unit_value(static_cast<std::uint64_t>(c.shape) * 2 + 1, i));
}

double weight_value(const CaseSpec& c, std::size_t i) {
  const Shape& s = kShapes[static_cast<std::size_t>(c.shape)];
  const double fan_in = static_cast<double>(s.depthwise ? 1 : s.c) * s.r * s.s;
  return rounded(c.dtype, unit_value(static_cast<std::uint64_t>(c.shape) * 2 + 2, i) / std::sqrt(fan_in));
}

}  // namespace

const std::vector<Shape>& shapes() { return kShapes; }

const char* algo_name(Algo a) {
  switch (a) {
    case Algo::kDirect: return "direct";
    case Algo::kIgemm: return "igemm";
    case Algo::kGemm1x1: return "gemm1x1";
    case Algo::kDepthwise: return "depthwise";
    case Algo::kDot2: return "dot2";
    case Algo::kPlanted: return "planted";
  }
  return "?";
}

const char* dtype_name(DType d) { return d == DType::kFp32 ? "fp32" : "fp16"; }

const char* mem_name(Mem m) { return mem_row(m).name; }

const char* mem_hip_api(Mem m) { return mem_row(m).hip_api; }

const char* plant_name(Plant p) {
  switch (p) {
    case Plant::kNone: return "none";
    case Plant::kSegv: return "segv";
    case Plant::kHang: return "hang";
    case Plant::kWrong: return "wrong";
    case Plant::kGpuFault: return "gpu_fault";
  }
  return "?";
}

std::optional<std::vector<CaseSpec>> profile_cases(const std::string& profile) {
  std::vector<CaseSpec> out;
  if (profile != "quick" && profile != "full") return std::nullopt;
  // Quick: small real layers, every kernel and dtype, in every memory kind.
  for (const MemRow& row : kMems)
    for (const char* name : kQuickShapes) add_shape_cases(out, shape_index(name), row.mem);
  if (profile == "quick") return out;
  // Full adds every other small layer in every memory kind, then the big layers in device memory.
  for (const MemRow& row : kMems)
    for (std::size_t si = 0; si < kShapes.size(); ++si) {
      const Shape& s = kShapes[si];
      bool quick = false;
      for (const char* name : kQuickShapes) quick = quick || std::string(name) == s.name;
      if (!quick && !s.big) add_shape_cases(out, static_cast<int>(si), row.mem);
    }
  for (std::size_t si = 0; si < kShapes.size(); ++si)
    if (kShapes[si].big) add_shape_cases(out, static_cast<int>(si), Mem::kDevCoarse);
  return out;
}

std::vector<CaseSpec> planted_cases() {
  std::vector<CaseSpec> out;
  for (Plant p : {Plant::kSegv, Plant::kHang, Plant::kWrong, Plant::kGpuFault}) {
    CaseSpec c;
    c.algo = Algo::kPlanted;
    c.dtype = DType::kFp32;
    c.shape = shape_index("unet_out_1x1");
    c.mem = Mem::kDevCoarse;
    c.plant = p;
    c.id = std::string("planted.") + plant_name(p);
    out.push_back(c);
  }
  return out;
}

std::optional<CaseSpec> parse_case_id(const std::string& id) {
  for (const CaseSpec& c : planted_cases())
    if (c.id == id) return c;
  // algo.dtype.shape.mem
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = id.find('.', start);
    parts.push_back(id.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 4) return std::nullopt;
  CaseSpec c;
  bool ok = false;
  for (Algo a : {Algo::kDirect, Algo::kIgemm, Algo::kGemm1x1, Algo::kDepthwise, Algo::kDot2})
    if (parts[0] == algo_name(a)) c.algo = a, ok = true;
  if (!ok) return std::nullopt;
  if (parts[1] == "fp32")
    c.dtype = DType::kFp32;
  else if (parts[1] == "fp16")
    c.dtype = DType::kFp16;
  else
    return std::nullopt;
  c.shape = shape_index(parts[2]);
  if (c.shape < 0) return std::nullopt;
  ok = false;
  for (const MemRow& row : kMems)
    if (parts[3] == row.name) c.mem = row.mem, ok = true;
  if (!ok) return std::nullopt;
  bool applies = false;
  for (Algo a : algos_for(kShapes[static_cast<std::size_t>(c.shape)])) applies = applies || a == c.algo;
  if (!applies || (c.algo == Algo::kDot2 && c.dtype != DType::kFp16)) return std::nullopt;
  c.id = id;
  return c;
}

Tolerance tolerance(DType d) {
  // fp32: fp32 accumulation of up to 4608 products of O(1/sqrt(n)) terms stays far below 1e-4.
  // fp16: storage is fp16 (one output rounding = 2^-11 relative), accumulation is fp32.
  if (d == DType::kFp32) return {1e-4, 1e-4};
  return {2e-3, 2e-3};
}

std::uint16_t f32_to_f16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t exp = (x >> 23) & 0xffu;
  std::uint32_t man = x & 0x7fffffu;
  if (exp == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (man ? 0x200u : 0));
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<std::uint16_t>(sign);
    man |= 0x800000u;
    const int shift = 14 - e;
    std::uint32_t h = man >> shift;
    const std::uint32_t rem = man & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  std::uint32_t h = (static_cast<std::uint32_t>(e) << 10) | (man >> 13);
  const std::uint32_t rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: correct
  return static_cast<std::uint16_t>(sign | h);
}

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t man = h & 0x3ffu;
  std::uint32_t x;
  if (exp == 0x1f) {
    x = sign | 0x7f800000u | (man << 13);
  } else if (exp == 0) {
    if (man == 0) {
      x = sign;
    } else {
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      x = sign | (static_cast<std::uint32_t>(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else {
    x = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

void fill_input(const CaseSpec& c, void* dst) {
  const Shape& s = kShapes[static_cast<std::size_t>(c.shape)];
  for (std::size_t i = 0; i < s.in_elems(); ++i) store(c.dtype, dst, i, input_value(c, i));
}

void fill_weights(const CaseSpec& c, void* dst) {
  const Shape& s = kShapes[static_cast<std::size_t>(c.shape)];
  for (std::size_t i = 0; i < s.w_elems(); ++i) store(c.dtype, dst, i, weight_value(c, i));
}

std::vector<double> reference(const CaseSpec& c) {
  const Shape& s = kShapes[static_cast<std::size_t>(c.shape)];
  std::vector<double> in(s.in_elems()), wt(s.w_elems());
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = input_value(c, i);
  for (std::size_t i = 0; i < wt.size(); ++i) wt[i] = weight_value(c, i);
  const int oh = s.out_h(), ow = s.out_w();
  const int cin = s.depthwise ? 1 : s.c;
  std::vector<double> out(s.out_elems(), 0.0);
  for (int k = 0; k < s.k; ++k)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        double acc = 0;
        for (int ci = 0; ci < cin; ++ci) {
          const int ch = s.depthwise ? k : ci;
          for (int r = 0; r < s.r; ++r) {
            const int iy = y * s.stride - s.pad + r;
            if (iy < 0 || iy >= s.h) continue;
            for (int q = 0; q < s.s; ++q) {
              const int ix = x * s.stride - s.pad + q;
              if (ix < 0 || ix >= s.w) continue;
              acc += in[(static_cast<std::size_t>(ch) * s.h + iy) * s.w + ix] *
                     wt[((static_cast<std::size_t>(k) * cin + ci) * s.r + r) * s.s + q];
            }
          }
        }
        out[(static_cast<std::size_t>(k) * oh + y) * ow + x] = acc;
      }
  return out;
}

Comparison compare(const CaseSpec& c, const void* out, const std::vector<double>& ref) {
  const Tolerance t = tolerance(c.dtype);
  Comparison r;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double got = load(c.dtype, out, i);
    const double err = std::fabs(got - ref[i]);
    const double ratio = err / (t.atol + t.rtol * std::fabs(ref[i]));
    if (!(ratio <= 1.0)) ++r.bad;  // NaN fails too
    if (!(ratio <= r.worst_ratio)) {
      r.worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
      r.worst_index = i;
    }
    if (!(err <= r.max_abs_err)) r.max_abs_err = std::isnan(err) ? INFINITY : err;
  }
  return r;
}

}  // namespace vmfix::harness

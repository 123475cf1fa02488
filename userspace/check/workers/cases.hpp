// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// The harness case table, shared by the `check` driver (C++20) and every worker backend (hipcc and
// nvcc build it as C++17): shapes from real networks, kernels, dtypes, memory kinds, profiles, ids,
// deterministic inputs, the double-accumulating CPU reference and the per-dtype tolerances.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmfix::harness {

enum class Algo { kDirect, kIgemm, kGemm1x1, kDepthwise, kDot2, kPlanted };
enum class DType { kFp32, kFp16 };
enum class Mem { kDevCoarse, kDevFine, kDevUncached, kHostCoherent, kHostNonCoherent, kManaged, kRegistered };
// Planted faults: hidden cases that prove the pipeline reports each failure while the run goes on.
enum class Plant { kNone, kSegv, kHang, kWrong, kGpuFault };

inline constexpr int kMemCount = 7;

// One convolution layer, batch 1, NCHW input, KCRS weights (depthwise: K == C, weights C x 1 x R x S).
struct Shape {
  const char* name;
  const char* origin;  // the network and layer it comes from
  int c, h, w, k, r, s, stride, pad;
  bool depthwise;
  bool big;  // full profile only, device coarse-grained memory only (host time budget)
  [[nodiscard]] int out_h() const { return (h + 2 * pad - r) / stride + 1; }
  [[nodiscard]] int out_w() const { return (w + 2 * pad - s) / stride + 1; }
  [[nodiscard]] std::size_t in_elems() const { return static_cast<std::size_t>(c) * h * w; }
  [[nodiscard]] std::size_t w_elems() const {
    return static_cast<std::size_t>(k) * (depthwise ? 1 : c) * r * s;
  }
  [[nodiscard]] std::size_t out_elems() const { return static_cast<std::size_t>(k) * out_h() * out_w(); }
  [[nodiscard]] double macs() const { return static_cast<double>(out_elems()) * (depthwise ? 1 : c) * r * s; }
};

struct CaseSpec {
  std::string id;
  Algo algo = Algo::kDirect;
  DType dtype = DType::kFp32;
  int shape = 0;  // index into shapes()
  Mem mem = Mem::kDevCoarse;
  Plant plant = Plant::kNone;
  // A case the worker describes itself (the torch worker's table): its VMFIX-CASE JSON document.
  // Empty for this table's cases; when set, only id and plant above mean anything.
  std::string described;
  [[nodiscard]] bool hidden() const { return plant != Plant::kNone; }
};

const std::vector<Shape>& shapes();
const char* algo_name(Algo a);
const char* dtype_name(DType d);
const char* mem_name(Mem m);
const char* plant_name(Plant p);
// What each memory kind means on AMD (the real target), for reports.
const char* mem_hip_api(Mem m);

// Every case of a profile ("quick" or "full"), in run order; planted cases are not included.
std::optional<std::vector<CaseSpec>> profile_cases(const std::string& profile);
// The hidden planted-fault cases.
std::vector<CaseSpec> planted_cases();
// Rebuilds a case from its id (the worker gets ids on its command line).
std::optional<CaseSpec> parse_case_id(const std::string& id);

// Tolerance: |got - ref| <= atol + rtol * |ref| for every output element.
struct Tolerance {
  double atol;
  double rtol;
};
Tolerance tolerance(DType d);

// fp16 storage helpers (IEEE binary16, round to nearest even), used on the host side of every backend.
std::uint16_t f32_to_f16(float f);
float f16_to_f32(std::uint16_t h);

// Deterministic inputs in [-1, 1) (weights scaled by 1/sqrt(fan_in)), already rounded to the dtype,
// written as the dtype's bytes into dst (elems of 4 or 2 bytes).
void fill_input(const CaseSpec& c, void* dst);
void fill_weights(const CaseSpec& c, void* dst);
// The CPU reference: the same rounded inputs, accumulated in double.
std::vector<double> reference(const CaseSpec& c);

struct Comparison {
  double max_abs_err = 0;
  double worst_ratio = 0;   // max over elements of |err| / (atol + rtol*|ref|); > 1 fails
  std::size_t worst_index = 0;
  std::size_t bad = 0;      // elements outside the tolerance (NaN counts)
  [[nodiscard]] bool pass() const { return bad == 0; }
};
// out: the device result as dtype bytes.
Comparison compare(const CaseSpec& c, const void* out, const std::vector<double>& ref);

inline std::size_t dtype_size(DType d) { return d == DType::kFp32 ? 4 : 2; }

}  // namespace vmfix::harness

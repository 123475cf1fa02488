// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix-check-<backend>: the child side of `rdna1-vmfix check`. One source, compiled by hipcc
// (hip), nvcc (cuda) or g++ (host). The driver execs it per case (or small batch) in its own process
// group; whatever happens here (GPU fault, abort, hang) costs only this process.
//
//   rdna1-vmfix-check-<backend> --probe          one line "VMFIX-PROBE {json}"; exit 3 without a device
//   rdna1-vmfix-check-<backend> --run ID...      per case "VMFIX-BEGIN ID" then "VMFIX-RESULT {json}"
// Exit codes: 0 every case ran (verdicts in the lines), 2 usage, 3 no device, 4 runtime API error.
// Runtime errors go to stderr as "VMFIX-ERROR api: name: text" before exit 4.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "cases.hpp"
#include "kernels.hpp"

namespace vmfix::harness {

#if defined(VMFIX_BACKEND_HOST)
std::atomic<const char*> g_host_kernel_running{nullptr};
// fp16 loads dominate the emulated fp16 kernels: a 256 KiB table makes them a lookup.
float host_f16_to_f32(std::uint16_t h) {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = f16_to_f32(static_cast<std::uint16_t>(i));
    return t;
  }();
  return table[h];
}
std::uint16_t host_f32_to_f16(float f) { return f32_to_f16(f); }
#endif

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitNoDevice = 3;
constexpr int kExitRuntime = 4;

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      o += '\\';
      o += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      o += ' ';
    } else {
      o += ch;
    }
  }
  return o + "\"";
}

[[noreturn]] void die_api(const char* api, hipError_t e) {
  std::fflush(stdout);
  std::fprintf(stderr, "VMFIX-ERROR %s: %s: %s\n", api, hipGetErrorName(e), hipGetErrorString(e));
  std::exit(kExitRuntime);
}

#define VMFIX_CHECK(call)                  \
  do {                                     \
    const hipError_t e_ = (call);          \
    if (e_ != hipSuccess) die_api(#call, e_); \
  } while (0)

struct DeviceInfo {
  std::string name = "cpu";
  std::string arch = "host";
  int managed = 1;
  int concurrent_managed = 1;
};

bool device_info(DeviceInfo& d) {
#if defined(VMFIX_GPU)
  int n = 0;
  if (hipGetDeviceCount(&n) != hipSuccess || n < 1) return false;
  VMFIX_CHECK(hipSetDevice(0));
  hipDeviceProp_t p;
  VMFIX_CHECK(hipGetDeviceProperties(&p, 0));
  d.name = p.name;
#if defined(VMFIX_BACKEND_HIP)
  d.arch = p.gcnArchName;
#else
  d.arch = "sm_" + std::to_string(p.major) + std::to_string(p.minor);
#endif
  VMFIX_CHECK(hipDeviceGetAttribute(&d.managed, hipDeviceAttributeManagedMemory, 0));
  VMFIX_CHECK(hipDeviceGetAttribute(&d.concurrent_managed, hipDeviceAttributeConcurrentManagedAccess, 0));
#else
  (void)d;
#endif
  return true;
}

// One buffer in one memory kind: dev is what kernels get, host (if not null) what the CPU may touch.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  // Returns an empty string, or why this memory kind cannot be used here (verdict unsupported).
  std::string allocate(Mem m, std::size_t bytes, const DeviceInfo& di) {
    kind_ = m;
    bytes_ = (bytes + 4095) / 4096 * 4096;
#if defined(VMFIX_BACKEND_HOST)
    (void)di;
    VMFIX_CHECK(hipMalloc(&dev_, bytes_));
    host_ = dev_;
#else  // hip, and cuda through portability.hpp's nearest equivalents
    switch (m) {
      case Mem::kDevCoarse: VMFIX_CHECK(hipMalloc(&dev_, bytes_)); break;
      case Mem::kDevFine: VMFIX_CHECK(hipExtMallocWithFlags(&dev_, bytes_, hipDeviceMallocFinegrained)); break;
      case Mem::kDevUncached:
#if defined(hipDeviceMallocUncached)
        VMFIX_CHECK(hipExtMallocWithFlags(&dev_, bytes_, hipDeviceMallocUncached));
        break;
#else
        return "this HIP's headers have no hipDeviceMallocUncached (HIP 5.2 and older)";
#endif
      case Mem::kHostCoherent:
        VMFIX_CHECK(hipHostMalloc(&dev_, bytes_, hipHostMallocCoherent));
        host_ = dev_;
        break;
      case Mem::kHostNonCoherent:
        VMFIX_CHECK(hipHostMalloc(&dev_, bytes_, hipHostMallocNonCoherent));
        host_ = dev_;
        break;
      case Mem::kManaged:
        if (di.managed == 0) return "the device reports no managed memory (ManagedMemory attribute 0)";
        VMFIX_CHECK(hipMallocManaged(&dev_, bytes_, hipMemAttachGlobal));
        host_ = dev_;
        break;
      case Mem::kRegistered:
        own_ = std::aligned_alloc(4096, bytes_);
        if (own_ == nullptr) die_api("aligned_alloc", hipErrorOutOfMemory);
        VMFIX_CHECK(hipHostRegister(own_, bytes_, hipHostRegisterMapped));
        registered_ = true;
        VMFIX_CHECK(hipHostGetDevicePointer(&dev_, own_, 0));
        host_ = own_;
        break;
    }
#endif
    return "";
  }

  void upload(const void* src, std::size_t n) {
    if (host_ != nullptr)
      std::memcpy(host_, src, n);
    else
      VMFIX_CHECK(hipMemcpy(dev_, src, n, hipMemcpyHostToDevice));
  }
  void download(void* dst, std::size_t n) const {
    if (host_ != nullptr)
      std::memcpy(dst, host_, n);
    else
      VMFIX_CHECK(hipMemcpy(dst, dev_, n, hipMemcpyDeviceToHost));
  }
  [[nodiscard]] void* dev() const { return dev_; }

 private:
  void release() {
#if defined(VMFIX_BACKEND_HOST)
    if (dev_ != nullptr) hipFree(dev_);
#else
    // Teardown errors are not verdicts: a faulted context fails these, and the case is decided.
    if (registered_) (void)hipHostUnregister(own_);
    if (own_ != nullptr)
      std::free(own_);
    else if (dev_ != nullptr && (kind_ == Mem::kHostCoherent || kind_ == Mem::kHostNonCoherent))
      (void)hipHostFree(dev_);
    else if (dev_ != nullptr)
      (void)hipFree(dev_);
#endif
    dev_ = host_ = own_ = nullptr;
  }
  Mem kind_ = Mem::kDevCoarse;
  std::size_t bytes_ = 0;
  void* dev_ = nullptr;
  void* host_ = nullptr;
  void* own_ = nullptr;
  [[maybe_unused]] bool registered_ = false;  // read only by the GPU backends
};

// What a memory kind is on this backend: honest labels for the report.
std::string mem_label(Mem m, const DeviceInfo& di) {
#if defined(VMFIX_BACKEND_HOST)
  (void)di;
  return std::string("host: aligned_alloc (stands in for ") + mem_hip_api(m) + ")";
#elif defined(VMFIX_BACKEND_HIP)
  std::string s = mem_hip_api(m);
  if (m == Mem::kManaged) s += di.concurrent_managed ? " (concurrent managed access)" : " (no concurrent managed access)";
  return s;
#else
  switch (m) {
    case Mem::kDevCoarse: return "cudaMalloc";
    case Mem::kDevFine: return "cudaMalloc (nearest: CUDA has no fine-grained device memory)";
    case Mem::kDevUncached: return "cudaMalloc (nearest: CUDA has no uncached device memory)";
    case Mem::kHostCoherent: return "cudaHostAlloc(Mapped|Portable), pinned host memory";
    case Mem::kHostNonCoherent: return "cudaHostAlloc(Mapped|WriteCombined) (nearest: no non-coherent host memory)";
    case Mem::kManaged:
      return di.concurrent_managed ? "cudaMallocManaged (concurrent managed access)"
                                   : "cudaMallocManaged (no concurrent managed access)";
    case Mem::kRegistered: return "cudaHostRegister(Mapped) on aligned_alloc memory";
  }
  return "?";
#endif
}

template <class T>
ConvArgs<T> make_args(const Shape& s, void* in, void* w, void* out) {
  ConvArgs<T> a{};
  a.in = static_cast<const T*>(in);
  a.w = static_cast<const T*>(w);
  a.out = static_cast<T*>(out);
  a.c = s.c, a.h = s.h, a.w_ = s.w, a.k = s.k, a.r = s.r, a.s = s.s, a.stride = s.stride, a.pad = s.pad;
  a.oh = s.out_h(), a.ow = s.out_w();
  return a;
}

unsigned ceil_div(std::size_t a, unsigned b) { return static_cast<unsigned>((a + b - 1) / b); }

template <class T>
hipError_t launch_case(const CaseSpec& c, const ConvArgs<T>& a) {
  const Shape& s = shapes()[static_cast<std::size_t>(c.shape)];
  const Dim flat{ceil_div(s.out_elems(), 256), 1, 1};
  switch (c.algo) {
    case Algo::kDirect:
    case Algo::kPlanted: return VMFIX_LAUNCH(conv_direct<ConvArgs<T>>, flat, (Dim{256, 1, 1}), a);
    case Algo::kIgemm:
      return VMFIX_LAUNCH(conv_igemm<ConvArgs<T>>,
                          (Dim{ceil_div(static_cast<std::size_t>(a.oh) * a.ow, kTile), ceil_div(a.k, kTile), 1}),
                          (Dim{16, 16, 1}), a);
    case Algo::kGemm1x1:
      return VMFIX_LAUNCH(conv_gemm1x1<ConvArgs<T>>,
                          (Dim{ceil_div(static_cast<std::size_t>(a.h) * a.w_, kGemmTile), ceil_div(a.k, kGemmTile), 1}),
                          (Dim{kGemmTile, kGemmTile, 1}), a);
    case Algo::kDepthwise: return VMFIX_LAUNCH(conv_depthwise<ConvArgs<T>>, flat, (Dim{256, 1, 1}), a);
    case Algo::kDot2: return VMFIX_LAUNCH(conv_dot2<ConvArgs<T>>, flat, (Dim{256, 1, 1}), a);
  }
  return hipSuccess;
}

// Test seam (host backend): the planted GPU-fault case appends amdgpu-style fault lines carrying this
// pid to $VMFIX_TEST_KMSG_FILE, so tests can check that the driver attributes kernel-log lines by pid.
void plant_kmsg_lines() {
#if defined(VMFIX_BACKEND_HOST)
  const char* path = std::getenv("VMFIX_TEST_KMSG_FILE");
  if (path == nullptr) return;
  FILE* f = std::fopen(path, "a");
  if (f == nullptr) return;
  const int pid = static_cast<int>(getpid());
  std::fprintf(f,
               "3,900,1000,-;amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 pasid:32770, "
               "for process rdna1-vmfix-ch pid %d thread rdna1-vmfix-ch pid %d)\n"
               "3,901,1001,-;amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000000000001000 from "
               "client 0x1b (UTCL2)\n"
               "3,902,1002,-;amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00800A31\n",
               pid, pid);
  std::fclose(f);
#endif
}

// The reference depends only on the layer and dtype; the driver shares a cache directory
// ($VMFIX_REF_CACHE) between its workers so each is computed once per run, not once per memory kind
// and kernel. Written to a temporary name and renamed: concurrent workers never read a partial file.
std::vector<double> cached_reference(const CaseSpec& c) {
  const char* dir = std::getenv("VMFIX_REF_CACHE");
  if (dir == nullptr || *dir == '\0') return reference(c);
  const Shape& s = shapes()[static_cast<std::size_t>(c.shape)];
  const std::string path = std::string(dir) + "/" + s.name + "." + dtype_name(c.dtype) + ".ref";
  std::vector<double> ref(s.out_elems());
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    const std::size_t n = std::fread(ref.data(), sizeof(double), ref.size(), f);
    std::fclose(f);
    if (n == ref.size()) return ref;
  }
  ref = reference(c);
  const std::string tmp = path + "." + std::to_string(getpid());
  if (FILE* f = std::fopen(tmp.c_str(), "wb")) {
    const bool ok = std::fwrite(ref.data(), sizeof(double), ref.size(), f) == ref.size();
    if (std::fclose(f) == 0 && ok) std::rename(tmp.c_str(), path.c_str());
    std::remove(tmp.c_str());
  }
  return ref;
}

void run_case(const CaseSpec& c, const DeviceInfo& di) {
  const Shape& s = shapes()[static_cast<std::size_t>(c.shape)];
  const std::size_t es = dtype_size(c.dtype);
  std::printf("VMFIX-BEGIN %s\n", c.id.c_str());
  std::fflush(stdout);
  if (c.plant == Plant::kSegv) {
    // A host-side crash outside any kernel: the driver must report "crash" and carry on.
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the planted fault needs a null the compiler cannot see
    volatile int* p = reinterpret_cast<volatile int*>(std::strtoull("0", nullptr, 10));
    *p = 1;
  }
  Buffer in, wt, out, spin;
  std::string why = in.allocate(c.mem, s.in_elems() * es, di);
  if (why.empty()) why = wt.allocate(c.mem, s.w_elems() * es, di);
  if (why.empty()) why = out.allocate(c.mem, s.out_elems() * es, di);
  if (!why.empty()) {
    std::printf("VMFIX-RESULT {\"id\":%s,\"verdict\":\"unsupported\",\"reason\":%s,\"memory_label\":%s}\n",
                json_str(c.id).c_str(), json_str(why).c_str(), json_str(mem_label(c.mem, di)).c_str());
    std::fflush(stdout);
    return;
  }
  std::vector<unsigned char> staging(std::max(s.in_elems(), std::max(s.w_elems(), s.out_elems())) * es);
  fill_input(c, staging.data());
  in.upload(staging.data(), s.in_elems() * es);
  fill_weights(c, staging.data());
  wt.upload(staging.data(), s.w_elems() * es);
  std::memset(staging.data(), 0xff, s.out_elems() * es);  // NaN everywhere: unwritten outputs fail
  out.upload(staging.data(), s.out_elems() * es);
  const int zero = 0;
  spin.allocate(Mem::kDevCoarse, sizeof zero, di);
  spin.upload(&zero, sizeof zero);

  const auto t0 = std::chrono::steady_clock::now();
  hipError_t e;
  if (c.dtype == DType::kFp32) {
    auto a = make_args<float>(s, in.dev(), wt.dev(), out.dev());
    a.plant = c.plant == Plant::kWrong ? kPlantWrong : c.plant == Plant::kHang ? kPlantHang
                                                     : c.plant == Plant::kGpuFault ? kPlantGpuFault : kPlantNone;
    a.bad = reinterpret_cast<float*>(static_cast<std::uintptr_t>(0x1000));  // NOLINT(performance-no-int-to-ptr): planted GPU fault address
    a.spin = static_cast<const volatile int*>(spin.dev());
    if (a.plant == kPlantGpuFault) plant_kmsg_lines();
    e = launch_case(c, a);
  } else {
    e = launch_case(c, make_args<half_t>(s, in.dev(), wt.dev(), out.dev()));
  }
  if (e != hipSuccess) die_api("kernel launch", e);
  VMFIX_CHECK(hipDeviceSynchronize());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.download(staging.data(), s.out_elems() * es);
  const Comparison cmp = compare(c, staging.data(), cached_reference(c));
  const Tolerance tol = tolerance(c.dtype);
  std::printf("VMFIX-RESULT {\"id\":%s,\"verdict\":\"%s\",\"max_abs_err\":%.9g,\"worst_ratio\":%.6g,"
              "\"bad_elements\":%zu,\"worst_index\":%zu,\"elements\":%zu,\"atol\":%g,\"rtol\":%g,"
              "\"kernel_ms\":%.3f,\"memory_label\":%s}\n",
              json_str(c.id).c_str(), cmp.pass() ? "pass" : "wrong_result",
              cmp.max_abs_err > 1e300 ? 1e300 : cmp.max_abs_err, cmp.worst_ratio > 1e300 ? 1e300 : cmp.worst_ratio,
              cmp.bad, cmp.worst_index, s.out_elems(), tol.atol, tol.rtol, ms, json_str(mem_label(c.mem, di)).c_str());
  std::fflush(stdout);
}

#if defined(VMFIX_BACKEND_HOST)
// A SIGSEGV while a kernel runs is the host backend's GPU memory fault: say so the way HIP's runtime
// does for a real one (a line on stderr, then abort). Elsewhere it is an ordinary crash.
void on_segv(int sig, siginfo_t* si, void*) {
  const char* k = g_host_kernel_running.load();
  if (k != nullptr) {
    char buf[256];
    const auto addr = reinterpret_cast<std::uintptr_t>(si->si_addr);
    int n = std::snprintf(buf, sizeof buf,
                          "host backend: emulated GPU memory access fault in kernel %s on address 0x%llx\n", k,
                          static_cast<unsigned long long>(addr));
    if (n > 0) (void)!write(2, buf, static_cast<std::size_t>(n));
    std::signal(SIGABRT, SIG_DFL);
    std::abort();
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}
#endif

int usage() {
  std::fprintf(stderr, "usage: rdna1-vmfix-check-%s --probe | --run CASE_ID...\n", VMFIX_BACKEND_NAME);
  return kExitUsage;
}

}  // namespace

int worker_main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  if (mode != "--probe" && mode != "--run") return usage();
#if defined(VMFIX_BACKEND_HOST)
  struct sigaction sa {};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
#endif
  std::vector<CaseSpec> cases;
  for (int i = 2; i < argc; ++i) {
    const auto c = parse_case_id(argv[i]);
    if (!c) {
      std::fprintf(stderr, "rdna1-vmfix-check-%s: unknown case id '%s'\n", VMFIX_BACKEND_NAME, argv[i]);
      return kExitUsage;
    }
    cases.push_back(*c);
  }
  DeviceInfo di;
  if (!device_info(di)) {
    std::fprintf(stderr, "rdna1-vmfix-check-%s: no %s device\n", VMFIX_BACKEND_NAME, VMFIX_BACKEND_NAME);
    return kExitNoDevice;
  }
  if (mode == "--probe") {
    std::printf("VMFIX-PROBE {\"backend\":\"%s\",\"device\":%s,\"arch\":%s,\"managed_memory\":%d,"
                "\"concurrent_managed_access\":%d}\n",
                VMFIX_BACKEND_NAME, json_str(di.name).c_str(), json_str(di.arch).c_str(), di.managed,
                di.concurrent_managed);
    return 0;
  }
  for (const CaseSpec& c : cases) run_case(c, di);
  return 0;
}

}  // namespace vmfix::harness

int main(int argc, char** argv) { return vmfix::harness::worker_main(argc, argv); }

// SPDX-License-Identifier: GPL-2.0 OR MIT
// The Thunk over libhsakmt (ROCT): the only file that includes hsakmt.h.

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <hsakmt.h>

#include "census/thunk.hpp"

namespace vmfix::census {
namespace {

const char* status_name(HSAKMT_STATUS s) {
  switch (s) {
    case HSAKMT_STATUS_SUCCESS: return "success";
    case HSAKMT_STATUS_ERROR: return "error";
    case HSAKMT_STATUS_DRIVER_MISMATCH: return "driver mismatch";
    case HSAKMT_STATUS_INVALID_PARAMETER: return "invalid parameter";
    case HSAKMT_STATUS_INVALID_HANDLE: return "invalid handle";
    case HSAKMT_STATUS_INVALID_NODE_UNIT: return "invalid node";
    case HSAKMT_STATUS_NO_MEMORY: return "no memory";
    case HSAKMT_STATUS_NOT_SUPPORTED: return "not supported";
    case HSAKMT_STATUS_UNAVAILABLE: return "unavailable";
    case HSAKMT_STATUS_OUT_OF_RESOURCES: return "out of resources";
    case HSAKMT_STATUS_KERNEL_IO_CHANNEL_NOT_OPENED: return "KFD not opened";
    case HSAKMT_STATUS_MEMORY_ALIGNMENT: return "memory alignment";
    default: return "status";
  }
}

Error thunk_error(const char* call, HSAKMT_STATUS s) {
  return runtime_error(call, fmt::format("{} ({}){}", status_name(s), static_cast<int>(s),
                                         errno != 0 ? fmt::format(", errno {}", std::strerror(errno)) : ""));
}

// Runs one thunk call (a callable returning HSAKMT_STATUS) with errno cleared first, so that an
// error names the call, the status and the errno the call itself left.
template <class Call>
Status thunk_call(const char* name, Call call) {
  errno = 0;
  const HSAKMT_STATUS s = call();
  return s == HSAKMT_STATUS_SUCCESS ? ok_status() : Status(thunk_error(name, s));
}

HsaMemFlags to_hsa(const MemFlags& f) {
  HsaMemFlags h{};
  h.ui32.NonPaged = f.non_paged ? 1 : 0;
  h.ui32.HostAccess = f.host_access ? 1 : 0;
  h.ui32.CoarseGrain = f.coarse_grain ? 1 : 0;
  h.ui32.NoSubstitute = f.no_substitute ? 1 : 0;
  h.ui32.Uncached = f.uncached ? 1 : 0;
  h.ui32.PageSize = HSA_PAGE_SIZE_4KB;
#ifdef VMFIX_HSAKMT_EXT_COHERENT
  h.ui32.ExtendedCoherent = f.ext_coherent ? 1 : 0;
#endif
  return h;
}

class HsakmtThunk final : public Thunk {
 public:
  ~HsakmtThunk() override { close(); }
  HsakmtThunk() = default;
  HsakmtThunk(const HsakmtThunk&) = delete;
  HsakmtThunk& operator=(const HsakmtThunk&) = delete;

  Status open() override {
    if (::access("/dev/kfd", F_OK) != 0)
      return Error{Exit::kNoGpu, "/dev/kfd",
                   "missing: the amdgpu driver is not loaded, was built without KFD (CONFIG_HSA_AMD), or there is no "
                   "AMD GPU; on an RDNA1 machine 'sudo modprobe amdgpu' creates it"};
    if (::access("/dev/kfd", R_OK | W_OK) != 0)
      return runtime_error("/dev/kfd", fmt::format("{}: census needs root (it sets the module's mode) and read-write "
                                                   "access to /dev/kfd (the render group)",
                                                   std::strerror(errno)));
    if (auto st = thunk_call("hsaKmtOpenKFD", [] { return hsaKmtOpenKFD(); }); !st) return st;
    open_ = true;
    return ok_status();
  }

  void close() override {
    if (props_) (void)hsaKmtReleaseSystemProperties();
    props_ = false;
    if (open_) (void)hsaKmtCloseKFD();
    open_ = false;
  }

  Result<std::vector<ThunkNode>> nodes() override {
    HsaSystemProperties sys{};
    if (auto st = thunk_call("hsaKmtAcquireSystemProperties", [&] { return hsaKmtAcquireSystemProperties(&sys); }); !st)
      return st.error();
    props_ = true;
    std::vector<ThunkNode> out;
    for (HSAuint32 i = 0; i < sys.NumNodes; ++i) {
      HsaNodeProperties p{};
      if (const auto s = hsaKmtGetNodeProperties(i, &p); s != HSAKMT_STATUS_SUCCESS)
        return thunk_error("hsaKmtGetNodeProperties", s);
      ThunkNode n;
      n.id = i;
      n.gpu = p.NumFComputeCores > 0;
      n.vendor_id = p.VendorId;
      n.device_id = p.DeviceId;
      if (n.gpu) {
        const unsigned major = p.EngineId.ui32.Major, minor = p.EngineId.ui32.Minor, step = p.EngineId.ui32.Stepping;
        n.gfx = fmt::format("gfx{}{:x}{:x}", major, minor, step);
        const unsigned domain = p.Domain, loc = p.LocationId;
        n.bdf = fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, (loc >> 8) & 0xff, (loc >> 3) & 0x1f, loc & 7);
        for (const HSAuint16 c : p.MarketingName) {
          if (c == 0) break;
          n.marketing_name += c < 0x80 ? static_cast<char>(c) : '?';
        }
      }
      out.push_back(std::move(n));
    }
    return out;
  }

  std::string kfd_version() override {
    HsaVersionInfo v{};
    if (hsaKmtGetVersion(&v) != HSAKMT_STATUS_SUCCESS) return "?";
    return fmt::format("{}.{}", v.KernelInterfaceMajorVersion, v.KernelInterfaceMinorVersion);
  }

  bool has_ext_coherent() const override {
#ifdef VMFIX_HSAKMT_EXT_COHERENT
    return true;
#else
    return false;
#endif
  }

  Result<void*> alloc(std::uint32_t node, std::uint64_t size, const MemFlags& flags) override {
    void* p = nullptr;
    if (auto st = thunk_call("hsaKmtAllocMemory", [&] { return hsaKmtAllocMemory(node, size, to_hsa(flags), &p); }); !st)
      return st.error();
    return p;
  }
  Status free(void* addr, std::uint64_t size) override {
    return thunk_call("hsaKmtFreeMemory", [&] { return hsaKmtFreeMemory(addr, size); });
  }
  Result<void*> host_alloc(std::uint64_t size) override {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return runtime_error("mmap", std::strerror(errno));
    std::memset(p, 0, size);  // populate: userptr pins, SVM maps present pages
    return p;
  }
  Status host_free(void* addr, std::uint64_t size) override {
    if (::munmap(addr, size) != 0) return runtime_error("munmap", std::strerror(errno));
    return ok_status();
  }
  Status register_memory(void* addr, std::uint64_t size, std::uint32_t gpu_node) override {
    HSAuint32 nodes[1] = {gpu_node};
    return thunk_call("hsaKmtRegisterMemoryToNodes", [&] { return hsaKmtRegisterMemoryToNodes(addr, size, 1, nodes); });
  }
  Status deregister_memory(void* addr) override {
    return thunk_call("hsaKmtDeregisterMemory", [&] { return hsaKmtDeregisterMemory(addr); });
  }
  Status map(void* addr, std::uint64_t size, std::uint32_t gpu_node) override {
    HSAuint32 nodes[1] = {gpu_node};
    HSAuint64 alt = 0;
    HsaMemMapFlags mf{};
    return thunk_call("hsaKmtMapMemoryToGPUNodes",
                      [&] { return hsaKmtMapMemoryToGPUNodes(addr, size, &alt, mf, 1, nodes); });
  }
  Status unmap(void* addr) override {
    return thunk_call("hsaKmtUnmapMemoryToGPU", [&] { return hsaKmtUnmapMemoryToGPU(addr); });
  }
  Status svm_map(void* addr, std::uint64_t size, std::uint32_t gpu_node, bool coherent) override {
    HSA_SVM_ATTRIBUTE attrs[3] = {{HSA_SVM_ATTR_PREFERRED_LOC, 0},  // system memory (node 0)
                                  {HSA_SVM_ATTR_ACCESS, gpu_node},
                                  {HSA_SVM_ATTR_SET_FLAGS, HSA_SVM_FLAG_COHERENT}};
    errno = 0;
    const auto s = hsaKmtSVMSetAttr(addr, size, coherent ? 3 : 2, attrs);
    if (s == HSAKMT_STATUS_SUCCESS) return ok_status();
    // KFD before interface 1.5, or a kernel without CONFIG_HSA_AMD_SVM (the ioctl answers EPERM).
    if (s == HSAKMT_STATUS_NOT_SUPPORTED || errno == EPERM)
      return Error{Exit::kNoGpu, "hsaKmtSVMSetAttr", "this kernel or thunk offers no SVM (CONFIG_HSA_AMD_SVM, KFD 1.5+)"};
    return thunk_error("hsaKmtSVMSetAttr", s);
  }

 private:
  bool open_ = false;
  bool props_ = false;
};

}  // namespace

std::unique_ptr<Thunk> make_hsakmt_thunk() { return std::make_unique<HsakmtThunk>(); }

}  // namespace vmfix::census

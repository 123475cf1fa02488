// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// The ROCT thunk (libhsakmt) calls `census` makes, behind one interface: the real one links
// libhsakmt (thunk_hsakmt.cpp), the tests drive a fake (tests/unit/census/fake_thunk.hpp).
// Memory kinds are described here in the thunk's own terms (HsaMemFlags bits), so the table the
// user sees says exactly which flags were passed.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace vmfix::census {

// One KFD topology node, as hsaKmtGetNodeProperties reports it.
struct ThunkNode {
  std::uint32_t id = 0;
  bool gpu = false;               // NumFComputeCores > 0
  std::string gfx;                // "gfx1010" from EngineId (major, minor, stepping); "" on CPU nodes
  std::uint16_t device_id = 0;    // PCI device ID (vendor 0x1002 on AMD GPUs)
  std::uint16_t vendor_id = 0;
  std::string bdf;                // "0000:03:00.0" from Domain and LocationId; "" on CPU nodes
  std::string marketing_name;
};

// How a kind reaches the GPU page tables.
enum class Path {
  kAlloc,     // hsaKmtAllocMemory + hsaKmtMapMemoryToGPUNodes
  kUserptr,   // host pages + hsaKmtRegisterMemoryToNodes + hsaKmtMapMemoryToGPUNodes
  kSvm,       // host pages + hsaKmtSVMSetAttr(ACCESS=node): KFD maps the range itself
};

// The HsaMemFlags bits census sets (a portable mirror of the thunk's bitfield).
struct MemFlags {
  bool non_paged = false;
  bool host_access = false;
  bool coarse_grain = false;
  bool no_substitute = false;
  bool uncached = false;
  bool ext_coherent = false;  // HsaMemFlags.ExtendedCoherent: newer thunks only
  bool svm_coherent = false;  // HSA_SVM_FLAG_COHERENT (SVM path)
  bool on_gpu_node = false;   // PreferredNode: the GPU node (VRAM), else system node 0
  // "NonPaged HostAccess CoarseGrain" style list of the bits set, for the table.
  [[nodiscard]] std::string describe(Path path) const;
};

class Thunk {
 public:
  Thunk() = default;
  virtual ~Thunk() = default;
  Thunk(const Thunk&) = delete;
  Thunk& operator=(const Thunk&) = delete;

  // hsaKmtOpenKFD. /dev/kfd missing -> Exit::kNoGpu with what is missing and how to get it.
  [[nodiscard]] virtual Status open() = 0;
  // hsaKmtCloseKFD (after every allocation is gone).
  virtual void close() = 0;
  // hsaKmtAcquireSystemProperties + hsaKmtGetNodeProperties for every node.
  [[nodiscard]] virtual Result<std::vector<ThunkNode>> nodes() = 0;
  // "1.13": KFD ioctl interface version (hsaKmtGetVersion).
  [[nodiscard]] virtual std::string kfd_version() = 0;
  // Whether this build of the thunk has the flag (HsaMemFlags.ExtendedCoherent is newer than
  // some distributions' libhsakmt).
  [[nodiscard]] virtual bool has_ext_coherent() const = 0;

  // hsaKmtAllocMemory(node, size, flags) -> address.
  [[nodiscard]] virtual Result<void*> alloc(std::uint32_t node, std::uint64_t size, const MemFlags& flags) = 0;
  // hsaKmtFreeMemory.
  [[nodiscard]] virtual Status free(void* addr, std::uint64_t size) = 0;
  // Page-aligned anonymous host memory for userptr and SVM (mmap/munmap).
  [[nodiscard]] virtual Result<void*> host_alloc(std::uint64_t size) = 0;
  [[nodiscard]] virtual Status host_free(void* addr, std::uint64_t size) = 0;
  // hsaKmtRegisterMemoryToNodes / hsaKmtDeregisterMemory.
  [[nodiscard]] virtual Status register_memory(void* addr, std::uint64_t size, std::uint32_t gpu_node) = 0;
  [[nodiscard]] virtual Status deregister_memory(void* addr) = 0;
  // hsaKmtMapMemoryToGPUNodes(addr, size, {gpu_node}) / hsaKmtUnmapMemoryToGPU.
  [[nodiscard]] virtual Status map(void* addr, std::uint64_t size, std::uint32_t gpu_node) = 0;
  [[nodiscard]] virtual Status unmap(void* addr) = 0;
  // hsaKmtSVMSetAttr(addr, size, {ACCESS=gpu_node, PREFERRED_LOC=system, SET_FLAGS=coherent?}):
  // without XNACK, KFD maps the range on the GPU when access is granted. Exit::kNoGpu when the
  // kernel or thunk has no SVM (reported as "not offered", not as a failure).
  [[nodiscard]] virtual Status svm_map(void* addr, std::uint64_t size, std::uint32_t gpu_node, bool coherent) = 0;
};

// The libhsakmt implementation; nullptr when this build has no libhsakmt.
std::unique_ptr<Thunk> make_hsakmt_thunk();

}  // namespace vmfix::census

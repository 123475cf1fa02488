// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// A fake ROCT thunk for census tests: it hands out addresses, tracks every allocation,
// registration and mapping (so a test can assert that nothing is left), and calls a test hook on
// each map, where the test plays the kernel module by writing the next counters snapshot.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "census/thunk.hpp"

namespace vmfix::census::test {

struct MapCall {
  std::uint64_t index = 0;  // 0-based count of map calls (alloc and SVM paths)
  Path path = Path::kAlloc;
  MemFlags flags;           // the allocation's flags (alloc path), or {.svm_coherent} for SVM
  std::uint32_t gpu_node = 0;
  std::uint64_t size = 0;
};

class FakeThunk final : public Thunk {
 public:
  std::vector<ThunkNode> node_list;
  Status open_result = ok_status();
  bool ext_coherent = false;
  bool svm_offered = true;
  std::function<Status(const MapCall&)> on_map;        // default: succeed
  std::function<Status(const MemFlags&)> on_alloc;     // default: succeed
  std::vector<std::string> calls;                      // "alloc", "map", "unmap", ... in order

  bool opened = false;
  bool closed = false;
  std::map<std::uint64_t, MemFlags> allocs;  // live thunk allocations by address
  std::set<std::uint64_t> host, registered, mapped, svm;

  [[nodiscard]] bool nothing_left() const {
    return allocs.empty() && host.empty() && registered.empty() && mapped.empty();
  }

  Status open() override {
    calls.emplace_back("open");
    if (open_result) opened = true;
    return open_result;
  }
  void close() override {
    calls.emplace_back("close");
    closed = opened;
  }
  Result<std::vector<ThunkNode>> nodes() override { return node_list; }
  std::string kfd_version() override { return "1.13"; }
  [[nodiscard]] bool has_ext_coherent() const override { return ext_coherent; }

  Result<void*> alloc(std::uint32_t /*node*/, std::uint64_t size, const MemFlags& flags) override {
    calls.emplace_back("alloc");
    if (on_alloc)
      if (auto st = on_alloc(flags); !st) return st.error();
    const std::uint64_t a = next(size);
    allocs[a] = flags;
    return reinterpret_cast<void*>(a);  // NOLINT(performance-no-int-to-ptr): never dereferenced
  }
  Status free(void* addr, std::uint64_t /*size*/) override {
    calls.emplace_back("free");
    if (allocs.erase(key(addr)) == 0) return runtime_error("free", "unknown address");
    if (mapped.contains(key(addr))) return runtime_error("free", "freed while mapped");
    return ok_status();
  }
  Result<void*> host_alloc(std::uint64_t size) override {
    calls.emplace_back("host_alloc");
    const std::uint64_t a = next(size);
    host.insert(a);
    return reinterpret_cast<void*>(a);  // NOLINT(performance-no-int-to-ptr)
  }
  Status host_free(void* addr, std::uint64_t /*size*/) override {
    calls.emplace_back("host_free");
    if (registered.contains(key(addr))) return runtime_error("host_free", "freed while registered");
    svm.erase(key(addr));
    if (host.erase(key(addr)) == 0) return runtime_error("host_free", "unknown address");
    return ok_status();
  }
  Status register_memory(void* addr, std::uint64_t /*size*/, std::uint32_t /*node*/) override {
    calls.emplace_back("register");
    registered.insert(key(addr));
    return ok_status();
  }
  Status deregister_memory(void* addr) override {
    calls.emplace_back("deregister");
    if (mapped.contains(key(addr))) return runtime_error("deregister", "deregistered while mapped");
    if (registered.erase(key(addr)) == 0) return runtime_error("deregister", "not registered");
    return ok_status();
  }
  Status map(void* addr, std::uint64_t size, std::uint32_t node) override {
    calls.emplace_back("map");
    MapCall c{maps_++, registered.contains(key(addr)) ? Path::kUserptr : Path::kAlloc, {}, node, size};
    if (auto it = allocs.find(key(addr)); it != allocs.end()) c.flags = it->second;
    if (on_map)
      if (auto st = on_map(c); !st) return st;
    mapped.insert(key(addr));
    return ok_status();
  }
  Status unmap(void* addr) override {
    calls.emplace_back("unmap");
    if (mapped.erase(key(addr)) == 0) return runtime_error("unmap", "not mapped");
    return ok_status();
  }
  Status svm_map(void* addr, std::uint64_t size, std::uint32_t node, bool coherent) override {
    calls.emplace_back("svm_map");
    if (!svm_offered) return Error{Exit::kNoGpu, "hsaKmtSVMSetAttr", "this kernel or thunk offers no SVM"};
    MapCall c{maps_++, Path::kSvm, {.svm_coherent = coherent}, node, size};
    if (on_map)
      if (auto st = on_map(c); !st) return st;
    svm.insert(key(addr));
    return ok_status();
  }

 private:
  static std::uint64_t key(void* p) { return reinterpret_cast<std::uint64_t>(p); }
  std::uint64_t next(std::uint64_t size) {
    const std::uint64_t a = next_;
    next_ += (size + 0xfff) & ~0xfffULL;
    return a;
  }
  std::uint64_t next_ = 0x7f0000000000ULL;
  std::uint64_t maps_ = 0;
};

// An RDNA1 GPU node (RX 5700 XT) behind CPU node 0.
inline std::vector<ThunkNode> rdna1_nodes() {
  return {ThunkNode{0, false, "", 0, 0, "", ""},
          ThunkNode{1, true, "gfx1010", 0x731f, 0x1002, "0000:03:00.0", "AMD Radeon RX 5700 XT"}};
}

}  // namespace vmfix::census::test

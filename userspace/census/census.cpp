// SPDX-License-Identifier: GPL-2.0 OR MIT
// The census run: preconditions, then one allocate-map-measure-free cycle per kind, under guards
// that restore the module's mode, the signal handlers and free every allocation on every path.

#include "census/census.hpp"

#include <csignal>
#include <thread>

#include <fmt/format.h>

#include "check/check.hpp"
#include "status/status.hpp"

namespace vmfix::census {

std::string MemFlags::describe(Path path) const {
  std::vector<std::string> bits;
  switch (path) {
    case Path::kAlloc: bits.emplace_back(on_gpu_node ? "GPU node:" : "system node:"); break;
    case Path::kUserptr: bits.emplace_back("RegisterMemoryToNodes"); break;
    case Path::kSvm: bits.emplace_back("SVMSetAttr ACCESS"); break;
  }
  if (non_paged) bits.emplace_back("NonPaged");
  if (host_access) bits.emplace_back("HostAccess");
  if (coarse_grain) bits.emplace_back("CoarseGrain");
  if (path == Path::kAlloc && !coarse_grain) bits.emplace_back("FineGrain");
  if (no_substitute) bits.emplace_back("NoSubstitute");
  if (uncached) bits.emplace_back("Uncached");
  if (ext_coherent) bits.emplace_back("ExtendedCoherent");
  if (svm_coherent) bits.emplace_back("COHERENT");
  return fmt::format("{}", fmt::join(bits, " "));
}

// The kinds ROCr/HIP allocate through the thunk (ROCr's memory regions), plus userptr and SVM.
std::vector<Kind> default_kinds() {
  std::vector<Kind> k;
  auto add = [&](const char* name, const char* what, Path path, MemFlags f) { k.push_back({name, what, path, f}); };
  add("vram", "device memory, coarse-grained (hipMalloc)", Path::kAlloc,
      {.non_paged = true, .coarse_grain = true, .no_substitute = true, .on_gpu_node = true});
  add("vram_fine", "device memory, fine-grained (hipExtMallocWithFlags fine-grained)", Path::kAlloc,
      {.non_paged = true, .no_substitute = true, .on_gpu_node = true});
  add("gtt_coarse", "system memory, coarse-grained (coarse host pool)", Path::kAlloc,
      {.non_paged = true, .host_access = true, .coarse_grain = true});
  add("gtt_fine", "system memory, fine-grained/coherent (hipHostMalloc)", Path::kAlloc,
      {.non_paged = true, .host_access = true});
  add("gtt_uncached", "system memory, fine-grained, uncached", Path::kAlloc,
      {.non_paged = true, .host_access = true, .uncached = true});
  add("gtt_ext_coherent", "system memory, fine-grained, extended-coherent", Path::kAlloc,
      {.non_paged = true, .host_access = true, .ext_coherent = true});
  add("userptr", "registered host memory (hipHostRegister)", Path::kUserptr, {});
  add("svm", "SVM range, default attributes (HMM/hipMallocManaged)", Path::kSvm, {});
  add("svm_coherent", "SVM range, HSA_SVM_FLAG_COHERENT", Path::kSvm, {.svm_coherent = true});
  return k;
}

const char* row_state_name(RowState s) {
  switch (s) {
    case RowState::kMeasured: return "measured";
    case RowState::kNotOffered: return "not_offered";
    case RowState::kFailed: return "failed";
    case RowState::kNotRun: return "not_run";
  }
  return "?";
}

long long Row::count(const std::string& key) const {
  const auto it = delta.find(key);
  return it == delta.end() ? 0 : it->second;
}

std::vector<std::string> Row::mtypes() const {
  std::vector<std::string> out;
  for (const auto& [key, name] : {std::pair{"seen_nc", "NC"}, {"seen_wc", "WC"}, {"seen_cc", "CC"},
                                  {"seen_uc", "UC"}, {"seen_reserved", "reserved"}})
    if (count(key) > 0) out.emplace_back(name);
  return out;
}

std::vector<std::string> Row::rules() const {
  std::vector<std::string> out;
  for (const auto& [key, v] : delta)
    if (key.starts_with("rule_") && v > 0) out.push_back(key.substr(5));
  return out;
}

bool CensusResult::complete() const {
  if (interrupted() || !cleanup_errors.empty() || !mode_restored) return false;
  for (const auto& r : rows)
    if (r.state != RowState::kMeasured && r.state != RowState::kNotOffered) return false;
  return true;
}

std::vector<std::string> CensusResult::cc_kinds() const {
  std::vector<std::string> out;
  for (const auto& r : rows)
    if (r.state == RowState::kMeasured && r.cc()) out.push_back(r.kind.name);
  return out;
}

std::vector<std::string> CensusResult::rewrite_kinds() const {
  std::vector<std::string> out;
  for (const auto& r : rows)
    if (r.state == RowState::kMeasured && r.would_rewrite() > 0) out.push_back(r.kind.name);
  return out;
}

int CensusResult::exit_code() const {
  if (!complete()) return static_cast<int>(Exit::kRuntime);
  return rewrite_kinds().empty() ? 0 : static_cast<int>(Exit::kProblem);
}

namespace {

using harness::ModuleSysfs;

// SIGINT/SIGTERM set a flag (async-signal-safe) that the run checks between steps, so the guards'
// destructors, not the default action, end the run; the previous handlers come back afterwards.
volatile std::sig_atomic_t g_signal = 0;
extern "C" void census_on_signal(int sig) { g_signal = sig; }

class SignalGuard {
 public:
  SignalGuard() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = census_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  [[nodiscard]] static int caught() { return g_signal; }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// Closes KFD last.
class KfdSession {
 public:
  explicit KfdSession(Thunk& t) : t_(t) {}
  ~KfdSession() { t_.close(); }
  KfdSession(const KfdSession&) = delete;
  KfdSession& operator=(const KfdSession&) = delete;

 private:
  Thunk& t_;
};

// One allocation of one kind: every step taken is undone, in reverse, by release() or the
// destructor. Errors of the undo steps are collected, never dropped.
class Allocation {
 public:
  Allocation(Thunk& t, const Kind& k, std::uint64_t size, std::uint32_t gpu_node)
      : t_(t), kind_(k), size_(size), gpu_(gpu_node) {}
  ~Allocation() { (void)release(); }
  Allocation(const Allocation&) = delete;
  Allocation& operator=(const Allocation&) = delete;

  Status create() {
    if (kind_.path == Path::kAlloc) {
      auto p = t_.alloc(kind_.flags.on_gpu_node ? gpu_ : 0, size_, kind_.flags);
      if (!p) return p.error();
      addr_ = *p;
      thunk_owned_ = true;
      return ok_status();
    }
    auto p = t_.host_alloc(size_);
    if (!p) return p.error();
    addr_ = *p;
    host_owned_ = true;
    if (kind_.path == Path::kUserptr) {
      if (auto st = t_.register_memory(addr_, size_, gpu_); !st) return st;
      registered_ = true;
    }
    return ok_status();
  }

  Status map() {
    if (kind_.path == Path::kSvm) {
      auto st = t_.svm_map(addr_, size_, gpu_, kind_.flags.svm_coherent);
      if (st) svm_mapped_ = true;  // freeing the host pages unmaps the range (KFD's MMU notifier)
      return st;
    }
    auto st = t_.map(addr_, size_, gpu_);
    if (st) mapped_ = true;
    return st;
  }

  // Undo in reverse; returns the first error after trying every step.
  std::vector<std::string> release() {
    std::vector<std::string> errors;
    auto step = [&](bool& flag, const Status& st, const char* what) {
      flag = false;
      if (!st) errors.push_back(fmt::format("{}: {} failed: {}", kind_.name, what, st.error().message));
    };
    if (mapped_) step(mapped_, t_.unmap(addr_), "unmap");
    if (registered_) step(registered_, t_.deregister_memory(addr_), "deregister");
    if (thunk_owned_) step(thunk_owned_, t_.free(addr_, size_), "free");
    if (host_owned_) step(host_owned_, t_.host_free(addr_, size_), "host free");
    svm_mapped_ = false;
    return errors;
  }

 private:
  Thunk& t_;
  const Kind& kind_;
  std::uint64_t size_;
  std::uint32_t gpu_;
  void* addr_ = nullptr;
  bool thunk_owned_ = false, host_owned_ = false, registered_ = false, mapped_ = false, svm_mapped_ = false;
};

bool is_rdna1(const ThunkNode& n) {
  if (!n.gpu) return false;
  if (const PciIdInfo* id = lookup_amd_pci_id(n.device_id); id != nullptr && n.vendor_id == 0x1002) return id->rdna1;
  return n.gfx == "gfx1010" || n.gfx == "gfx1011" || n.gfx == "gfx1012";
}

std::string describe_gpus(const std::vector<ThunkNode>& nodes) {
  std::vector<std::string> found;
  for (const auto& n : nodes)
    if (n.gpu) found.push_back(fmt::format("node {} {} at {}", n.id, n.gfx.empty() ? "?" : n.gfx, n.bdf));
  return found.empty() ? "KFD lists no GPU node" : "KFD lists " + fmt::format("{}", fmt::join(found, ", "));
}

Result<ThunkNode> pick_node(Thunk& thunk, const Options& opt) {
  auto nodes = thunk.nodes();
  if (!nodes) return nodes.error();
  for (const auto& n : *nodes) {
    if (opt.node && n.id != *opt.node) continue;
    if (is_rdna1(n)) return n;
    if (opt.node)
      return Error{Exit::kNoGpu, fmt::format("--node {}", n.id),
                   fmt::format("node {} is {}, not an RDNA1 GPU (gfx1010/gfx1011/gfx1012): census measures what "
                               "rdna1_vmfix would do, which is nothing off RDNA1",
                               n.id, n.gpu ? n.gfx : "a CPU node")};
  }
  if (opt.node) return Error{Exit::kNoGpu, fmt::format("--node {}", *opt.node), "no such KFD node; " + describe_gpus(*nodes)};
  return Error{Exit::kNoGpu, "census",
               "no RDNA1 GPU (gfx1010/gfx1011/gfx1012) among the KFD nodes (" + describe_gpus(*nodes) +
                   "): census measures what rdna1_vmfix would do, which is nothing off RDNA1"};
}

// The module must be loaded, armed and scoping this device, or its counters say nothing.
Status check_module(const ModuleSysfs& mod, const std::string& root, const ThunkNode& node) {
  if (!mod.loaded())
    return runtime_error("rdna1_vmfix",
                         "the module is not loaded; census reads its counters (sudo modprobe rdna1_vmfix; if it is not "
                         "installed: install the rdna1-vmfix-dkms package or run 'make install')");
  const Sysfs fs(root);
  auto text = fs.read("/sys/kernel/rdna1_vmfix/status");
  if (!text) return text.error();
  auto st = parse_module_status(*text);
  if (!st) return Error{Exit::kRuntime, "/sys/kernel/rdna1_vmfix/status", st.error().message};
  const auto state = st->fields.count("state") ? st->fields.at("state") : "?";
  if (state != "armed")
    return runtime_error("rdna1_vmfix",
                         fmt::format("the module is {} ({}), so it counts nothing; 'rdna1-vmfix status' says why", state,
                                     st->fields.count("reason") ? st->fields.at("reason") : "-"));
  auto counters = mod.counters();
  if (!counters) return counters.error();
  if (!counters->contains("device " + node.bdf))
    return runtime_error("rdna1_vmfix",
                         fmt::format("the module does not act on {} (its devices= parameter leaves it out), so it "
                                     "does not count its mappings; set devices=auto or add {}",
                                     node.bdf, node.bdf));
  return ok_status();
}

Result<CounterRecord> device_counters(const ModuleSysfs& mod, const std::string& bdf) {
  auto c = mod.counters();
  if (!c) return c.error();
  const auto it = c->find("device " + bdf);
  if (it == c->end()) return runtime_error("/sys/kernel/rdna1_vmfix/counters", "the device record of " + bdf + " vanished");
  return it->second;
}

CounterRecord subtract(const CounterRecord& after, const CounterRecord& before) {
  CounterRecord d;
  for (const auto& [k, v] : after) {
    const auto b = before.find(k);
    d[k] = v - (b == before.end() ? 0 : b->second);
  }
  return d;
}

// One kind: allocate, snapshot, map, snapshot, undo. Fills row; undo errors go to errors.
void measure(Thunk& thunk, const ModuleSysfs& mod, const ThunkNode& node, std::uint64_t size, Row& row,
             std::vector<std::string>& errors) {
  if (row.kind.flags.ext_coherent && !thunk.has_ext_coherent()) {
    row.state = RowState::kNotOffered;
    row.note = "this libhsakmt has no HsaMemFlags.ExtendedCoherent";
    return;
  }
  Allocation a(thunk, row.kind, size, node.id);
  auto fail = [&](const Error& e, const char* step) {
    const bool absent = e.code == Exit::kNoGpu;  // the thunk/kernel does not offer this path
    row.state = absent ? RowState::kNotOffered : RowState::kFailed;
    row.note = absent ? e.message : fmt::format("{} failed: {}", step, e.message);
  };
  if (auto st = a.create(); !st) {
    fail(st.error(), "allocation");
  } else if (auto before = device_counters(mod, node.bdf); !before) {
    fail(before.error(), "reading counters");
  } else if (auto mapped = a.map(); !mapped) {
    fail(mapped.error(), "map");
  } else if (auto after = device_counters(mod, node.bdf); !after) {
    fail(after.error(), "reading counters");
  } else {
    row.state = RowState::kMeasured;
    row.pages = size / 4096;
    row.delta = subtract(*after, *before);
  }
  for (auto& e : a.release()) errors.push_back(std::move(e));
}

}  // namespace

Result<CensusResult> run_census(Thunk& thunk, const Options& opt) {
  if (opt.size == 0 || opt.size % 4096 != 0)
    return usage_error("--size", fmt::format("{} is not a positive multiple of 4096", opt.size));
  if (auto st = thunk.open(); !st) return st.error();
  const KfdSession session(thunk);
  auto node = pick_node(thunk, opt);
  if (!node) return node.error();
  const ModuleSysfs mod(opt.sysfs_root);
  if (auto st = check_module(mod, opt.sysfs_root, *node); !st) return st.error();
  auto original = mod.mode();
  if (!original) return original.error();

  CensusResult r;
  r.node = *node;
  r.kfd_version = thunk.kfd_version();
  r.size = opt.size;
  r.original_mode = *original;
  r.baseline_ms = opt.baseline_ms;
  harness::ModeRestorer mode_guard(mod, *original);
  if (auto st = mod.set_mode("audit"); !st) return st.error();
  const SignalGuard signals;

  // Others' mappings during an idle interval: a non-zero figure means deltas may include them.
  if (auto before = device_counters(mod, node->bdf); before) {
    if (const std::chrono::milliseconds idle{opt.baseline_ms}; idle.count() > 0) {
      if (opt.idle)
        opt.idle(idle);
      else
        std::this_thread::sleep_for(idle);
    }
    if (auto after = device_counters(mod, node->bdf); after) r.background_ranges = subtract(*after, *before)["ranges"];
  }
  for (const auto& kind : opt.kinds) {
    r.rows.emplace_back().kind = kind;
    if (SignalGuard::caught() != 0) continue;  // left as not_run
    measure(thunk, mod, *node, opt.size, r.rows.back(), r.cleanup_errors);
  }
  r.signal = SignalGuard::caught();
  if (auto st = mode_guard.restore(); !st)
    r.cleanup_errors.push_back(fmt::format("restoring mode {}: {}", *original, st.error().message));
  else
    r.mode_restored = true;
  return r;
}

}  // namespace vmfix::census

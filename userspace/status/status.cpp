// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "status/status.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/output.hpp"
#include "common/term.hpp"
#include "common/text.hpp"
#include "vmfix_devices.h"

#ifdef VMFIX_HAVE_DRM_AMDGPU
#include <amdgpu.h>
#include <xf86drm.h>
#endif

namespace vmfix {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxLines = 4096;
constexpr const char* kKfdNodes = "/sys/class/kfd/kfd/topology/nodes";
constexpr const char* kPciDevices = "/sys/bus/pci/devices";
constexpr const char* kModuleDir = "/sys/module/rdna1_vmfix";
constexpr const char* kModuleSysfs = "/sys/kernel/rdna1_vmfix";

// Splits text into lines (no '\n'); a trailing newline does not make an empty last line.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size() && out.size() <= kMaxLines) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    if (pos >= s.size()) break;
    auto sp = s.find(' ', pos);
    if (sp == std::string_view::npos) sp = s.size();
    out.push_back(s.substr(pos, sp - pos));
    pos = sp;
  }
  return out;
}

bool is_key(std::string_view k) {
  if (k.empty() || k.size() > 64) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool is_value(std::string_view v) {
  if (v.empty() || v.size() > 256) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

Error malformed(std::string_view what, std::size_t line, std::string_view why) {
  return runtime_error(std::string(what), fmt::format("line {}: {}", line, why));
}

// Checks the "schema N" first line; returns the remaining lines.
// Calls each(tokens, line number) for every line that is not blank, numbering from first_no; the
// first error stops the walk. The shape every parser below shares.
template <typename Each>
Status for_each_line(const std::vector<std::string_view>& lines, std::size_t first_no, Each each) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (text::trim(lines[i]).empty()) continue;
    if (Status st = each(split_spaces(lines[i]), i + first_no); !st) return st.error();
  }
  return ok_status();
}

Result<std::vector<std::string_view>> schema_lines(std::string_view text, std::string_view what) {
  if (text.size() > kMaxSysfsFile) return runtime_error(std::string(what), "file too large");
  auto lines = split_lines(text);
  if (lines.size() > kMaxLines) return runtime_error(std::string(what), "too many lines");
  if (lines.empty() || !text::starts_with(lines[0], "schema "))
    return runtime_error(std::string(what), "not an rdna1_vmfix status file: the first line must be 'schema N'");
  const auto n = text::parse_number(text::trim(lines[0].substr(7)));
  if (!n) return malformed(what, 1, "schema is not a number");
  if (*n != static_cast<std::uint64_t>(kStatusSchema))
    return runtime_error(std::string(what),
                         fmt::format("schema {} is not supported (this rdna1-vmfix reads schema {}): install matching "
                                     "versions of the module and the tool",
                                     *n, kStatusSchema));
  lines.erase(lines.begin());
  return lines;
}

// A module state file read into a T: the schema line checked, then each(out, tokens, line number)
// per line after it.
template <typename T, typename Each>
Result<T> parse_schema_file(std::string_view text, std::string_view what, Each each) {
  auto lines = schema_lines(text, what);
  if (!lines) return lines.error();
  T out;
  const Status walked = for_each_line(*lines, 2, [&](const auto& tok, std::size_t no) { return each(out, tok, no); });
  if (!walked) return walked.error();
  return out;
}

// "name k=v k=v" -> record; nullopt when a token is not k=v.
std::optional<Record> parse_record(const std::vector<std::string_view>& tokens) {
  Record r;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const auto eq = tokens[i].find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view k = tokens[i].substr(0, eq);
    const std::string_view v = tokens[i].substr(eq + 1);
    if (!is_key(k) || !is_value(v)) return std::nullopt;
    r[std::string(k)] = std::string(v);
  }
  return r;
}

std::optional<std::uint64_t> read_number(const RootFs& fs, const std::string& path) {
  auto t = fs.read(path);
  if (!t) return std::nullopt;
  return text::parse_number(text::trim(*t));
}

// The one device table (kernel/vmfix_devices.h), shared with the module and the patch check.
#define VMFIX_PCI_ID_ROW(pci, chip, gfx, gc_major, gc_minor, gc_rev, in_scope) PciIdInfo{(pci), (chip), (gfx), (in_scope) != 0},
constexpr std::array kAmdIds = {VMFIX_DEVICE_TABLE(VMFIX_PCI_ID_ROW)};
#undef VMFIX_PCI_ID_ROW

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parsers

std::optional<std::uint64_t> KfdProperties::get(const std::string& key) const {
  const auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

Result<KfdProperties> parse_kfd_properties(std::string_view text) {
  if (text.size() > kMaxSysfsFile) return runtime_error("properties", "file too large");
  KfdProperties p;
  const auto lines = split_lines(text);
  if (lines.size() > kMaxLines) return runtime_error("properties", "too many lines");
  const Status st = for_each_line(lines, 1, [&](const auto& tok, std::size_t no) -> Status {
    if (tok.size() != 2 || !is_key(tok[0])) return malformed("properties", no, "expected 'key value'");
    const auto v = text::parse_number(tok[1]);
    if (!v) return malformed("properties", no, fmt::format("value of {} is not a number", tok[0]));
    p.values[std::string(tok[0])] = *v;
    return ok_status();
  });
  if (!st) return st.error();
  if (p.values.empty()) return runtime_error("properties", "empty");
  return p;
}

std::string gfx_from_target_version(std::uint64_t v) {
  if (v == 0 || v > 999999) return {};
  const auto major = v / 10000;
  const auto minor = (v / 100) % 100;
  const auto step = v % 100;
  if (major < 6 || minor > 15 || step > 15) return {};
  return fmt::format("gfx{}{:x}{:x}", major, minor, step);
}

const PciIdInfo* lookup_amd_pci_id(std::uint16_t device) {
  for (const auto& id : kAmdIds)
    if (id.device == device) return &id;
  return nullptr;
}

Result<ModuleStatus> parse_module_status(std::string_view text) {
  constexpr std::string_view kWhat = "rdna1_vmfix/status";
  auto parsed = parse_schema_file<ModuleStatus>(text, kWhat,
                                         [&](ModuleStatus& s, const auto& tok, std::size_t no) -> Status {
    if (tok.empty() || !is_key(tok[0])) return malformed(kWhat, no, "expected 'key value' or a record");
    if (tok[0] == "hook" || tok[0] == "device") {
      auto r = parse_record(tok);
      if (!r) return malformed(kWhat, no, fmt::format("{} record: expected key=value tokens", tok[0]));
      (tok[0] == "hook" ? s.hooks : s.devices).push_back(std::move(*r));
      return ok_status();
    }
    if (tok.size() != 2 || !is_value(tok[1])) return malformed(kWhat, no, "expected 'key value'");
    s.fields[std::string(tok[0])] = std::string(tok[1]);
    return ok_status();
  });
  if (!parsed) return parsed;
  auto& s = *parsed;
  for (const char* k : {"version", "state", "mode"})
    if (s.fields.count(k) == 0) return runtime_error(std::string(kWhat), fmt::format("missing '{}' line", k));
  const std::string& st = s.fields["state"];
  if (st != "armed" && st != "waiting" && st != "refused" && st != "error")
    return runtime_error(std::string(kWhat), fmt::format("unknown state '{}'", text::printable(st, 32)));
  return parsed;
}

Result<ModuleCounters> parse_module_counters(std::string_view text) {
  constexpr std::string_view kWhat = "rdna1_vmfix/counters";
  return parse_schema_file<ModuleCounters>(text, kWhat,
                                         [&](ModuleCounters& c, const auto& tok, std::size_t no) -> Status {
    auto r = parse_record(tok);
    if (tok.empty() || !r) return malformed(kWhat, no, "expected a record of key=value tokens");
    if (tok[0] == "device") {
      std::map<std::string, std::uint64_t> vals;
      std::string bdf;
      for (const auto& [k, v] : *r) {
        if (k == "bdf") {
          bdf = v;
          continue;
        }
        const auto n = text::parse_number(v);
        if (!n) return malformed(kWhat, no, fmt::format("counter {} is not a number", k));
        vals[k] = *n;
      }
      if (bdf.empty()) return malformed(kWhat, no, "device record without bdf=");
      c.devices.push_back(std::move(vals));
      c.device_bdfs.push_back(bdf);
    } else if (tok[0] == "other") {
      const auto it = r->find("ranges");
      const auto n = it == r->end() ? std::nullopt : text::parse_number(it->second);
      if (!n) return malformed(kWhat, no, "other record needs ranges=N");
      c.other_ranges = *n;
    } else {
      return malformed(kWhat, no, fmt::format("unknown record '{}'", text::printable(tok[0], 32)));
    }
    return ok_status();
  });
}

Result<ModuleRecent> parse_module_recent(std::string_view text) {
  constexpr std::string_view kWhat = "rdna1_vmfix/recent";
  return parse_schema_file<ModuleRecent>(text, kWhat,
                                         [&](ModuleRecent& r, const auto& tok, std::size_t no) -> Status {
    auto rec = parse_record(tok);
    if (tok.empty() || tok[0] != "rewrite" || !rec) return malformed(kWhat, no, "expected 'rewrite key=value ...'");
    r.rewrites.push_back(std::move(*rec));
    return ok_status();
  });
}

// ---------------------------------------------------------------------------------------------
// Collection

bool SystemStatus::any_rdna1() const {
  return std::any_of(gpus.begin(), gpus.end(), [](const GpuInfo& g) { return g.rdna1; });
}

std::string drm_marketing_name([[maybe_unused]] unsigned render_minor) {
#ifdef VMFIX_HAVE_DRM_AMDGPU
  const std::string node = fmt::format("/dev/dri/renderD{}", render_minor);
  const int fd = ::open(node.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return {};  // not permitted (no 'render' group): the name is optional
  std::string name;
  uint32_t major = 0;
  uint32_t minor = 0;
  amdgpu_device_handle dev = nullptr;
  if (amdgpu_device_initialize(fd, &major, &minor, &dev) == 0) {
    if (const char* n = amdgpu_get_marketing_name(dev); n != nullptr) name = n;
    amdgpu_device_deinitialize(dev);
  }
  ::close(fd);
  return name;
#else
  return {};
#endif
}

namespace {

// Reads `path` and parses it with `parse` (a function returning Result<T>) into `slot`; a failure
// of either step adds one message naming the path to `problems` and leaves `slot` as it was.
template <class Parse, class T>
bool read_parsed(const RootFs& fs, const std::string& path, Parse parse, T& slot, std::vector<std::string>& problems) {
  auto text = fs.read(path);
  auto parsed = text ? parse(*text) : decltype(parse(*text))(text.error());
  if (!parsed) {
    problems.push_back(fmt::format("{}: {}", path, parsed.error().message));
    return false;
  }
  slot = std::move(*parsed);
  return true;
}

// KFD topology: the GPUs ROCm sees, with their gfx target.
void collect_kfd_gpus(const RootFs& fs, SystemStatus& s) {
  for (const auto& node : fs.list(kKfdNodes)) {
    const auto id = text::parse_number(node);
    if (!id) continue;
    std::optional<KfdProperties> p;
    if (!read_parsed(fs, fmt::format("{}/{}/properties", kKfdNodes, node), parse_kfd_properties, p, s.warnings))
      continue;
    const auto gtv = p->get("gfx_target_version").value_or(0);
    if (gtv == 0) continue;  // CPU node
    GpuInfo g;
    g.kfd_node = static_cast<unsigned>(*id);
    g.gfx_target_version = gtv;
    g.gfx = gfx_from_target_version(gtv);
    g.vendor = static_cast<std::uint16_t>(p->get("vendor_id").value_or(0));
    g.device = static_cast<std::uint16_t>(p->get("device_id").value_or(0));
    const auto loc = p->get("location_id").value_or(0);
    const auto dom = p->get("domain").value_or(0);
    g.bdf = fmt::format("{:04x}:{:02x}:{:02x}.{:x}", dom & 0xffff, (loc >> 8) & 0xff, (loc >> 3) & 0x1f, loc & 7);
    if (const auto m = p->get("drm_render_minor"); m && *m < 1024) g.render_minor = static_cast<unsigned>(*m);
    s.gpus.push_back(std::move(g));
  }
}

// PCI: every AMD display-class function, bound or not; then what the device table knows of each.
void collect_pci_gpus(const RootFs& fs, MarketingNameFn marketing, SystemStatus& s) {
  for (const auto& bdf : fs.list(kPciDevices)) {
    const std::string dir = fmt::format("{}/{}", kPciDevices, bdf);
    const auto vendor = read_number(fs, dir + "/vendor");
    const auto cls = read_number(fs, dir + "/class");
    if (!vendor || *vendor != VMFIX_PCI_VENDOR_AMD || !cls || (*cls >> 16) != 0x03) continue;
    const auto device = read_number(fs, dir + "/device");
    auto it = std::find_if(s.gpus.begin(), s.gpus.end(), [&](const GpuInfo& g) { return g.bdf == bdf; });
    if (it == s.gpus.end()) {
      GpuInfo g;
      g.bdf = bdf;
      g.vendor = VMFIX_PCI_VENDOR_AMD;
      g.device = static_cast<std::uint16_t>(device.value_or(0));
      s.gpus.push_back(std::move(g));
      it = std::prev(s.gpus.end());
    }
    it->driver = fs.link_name(dir + "/driver");
  }
  for (auto& g : s.gpus) {
    if (g.vendor != VMFIX_PCI_VENDOR_AMD) continue;
    if (const PciIdInfo* id = lookup_amd_pci_id(g.device)) {
      g.family = id->family;
      g.rdna1 = id->rdna1;
      if (g.gfx.empty()) g.gfx = id->gfx;
    }
    if (marketing != nullptr && g.render_minor) g.marketing_name = marketing(*g.render_minor);
  }
  std::sort(s.gpus.begin(), s.gpus.end(), [](const GpuInfo& a, const GpuInfo& b) { return a.bdf < b.bdf; });
}

// The module: loaded, its parameters, and its versioned status files.
void collect_module(const RootFs& fs, ModuleState& m) {
  m.loaded = fs.exists(kModuleDir);
  for (const auto& p : fs.list(std::string(kModuleDir) + "/parameters")) {
    auto v = fs.read(fmt::format("{}/parameters/{}", kModuleDir, p));
    if (v) m.params[p] = text::printable(text::trim(*v), 128);
  }
  const std::string status_path = std::string(kModuleSysfs) + "/status";
  m.has_status = fs.exists(status_path);
  if (!m.has_status) {
    if (m.loaded) m.errors.push_back(fmt::format("{} is missing although the module is loaded", status_path));
    return;
  }
  auto read_parse = [&](const char* name, auto parse, auto& slot) {
    read_parsed(fs, fmt::format("{}/{}", kModuleSysfs, name), parse, slot, m.errors);
  };
  read_parse("status", parse_module_status, m.status);
  if (fs.exists(std::string(kModuleSysfs) + "/counters")) read_parse("counters", parse_module_counters, m.counters);
  if (fs.exists(std::string(kModuleSysfs) + "/recent")) read_parse("recent", parse_module_recent, m.recent);
}

}  // namespace

SystemStatus collect_status(const RootFs& fs, MarketingNameFn marketing) {
  SystemStatus s;
  collect_kfd_gpus(fs, s);
  collect_pci_gpus(fs, marketing, s);
  collect_module(fs, s.module);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Renderers

nlohmann::json status_json(const SystemStatus& s) {
  using nlohmann::json;
  json gpus = json::array();
  for (const auto& g : s.gpus) {
    json j = {{"bdf", g.bdf},
              {"pci_id", fmt::format("{:04x}:{:04x}", g.vendor, g.device)},
              {"driver", g.driver.empty() ? json(nullptr) : json(g.driver)},
              {"gfx", g.gfx.empty() ? json(nullptr) : json(g.gfx)},
              {"family", g.family.empty() ? json(nullptr) : json(g.family)},
              {"rdna1", g.rdna1}};
    if (g.gfx_target_version != 0) j["gfx_target_version"] = g.gfx_target_version;
    j["kfd_node"] = g.kfd_node ? json(*g.kfd_node) : json(nullptr);
    j["render_minor"] = g.render_minor ? json(*g.render_minor) : json(nullptr);
    if (!g.marketing_name.empty()) j["marketing_name"] = g.marketing_name;
    gpus.push_back(j);
  }
  const ModuleState& m = s.module;
  json mod = {{"loaded", m.loaded}, {"params", m.params}, {"errors", m.errors}};
  if (m.status) {
    json st = json::object();
    for (const auto& [k, v] : m.status->fields) st[k] = v;
    st["hooks"] = m.status->hooks;
    st["devices"] = m.status->devices;
    mod["status"] = st;
  } else {
    mod["status"] = nullptr;
  }
  if (m.counters) {
    json devs = json::array();
    for (std::size_t i = 0; i < m.counters->devices.size(); ++i) {
      json d = m.counters->devices[i];
      d["bdf"] = m.counters->device_bdfs[i];
      devs.push_back(d);
    }
    mod["counters"] = {{"devices", devs},
                       {"other_ranges", m.counters->other_ranges ? json(*m.counters->other_ranges) : json(nullptr)}};
  } else {
    mod["counters"] = nullptr;
  }
  mod["recent"] = m.recent ? json(m.recent->rewrites) : json(nullptr);
  return {{"schema", 1}, {"gpus", gpus}, {"module", mod}, {"warnings", s.warnings}};
}

std::string module_reason_advice(std::string_view reason) {
  const auto starts = [&](std::string_view p) { return reason.substr(0, p.size()) == p; };
  if (reason == "amdgpu_not_the_analysed_build")
    return "the loaded amdgpu is not the amdgpu.ko rdna1_vmfix was built against (e.g. amdgpu-dkms was installed "
           "or updated since): rebuild it with 'sudo dkms autoinstall -k $(uname -r)' (or reinstall "
           "rdna1-vmfix-dkms), then 'sudo modprobe -r rdna1_vmfix && sudo modprobe rdna1_vmfix'";
  if (starts("amdgpu_btf_unreadable_"))
    return "the kernel has no BTF for the loaded amdgpu (/sys/kernel/btf/amdgpu), so the module cannot verify it "
           "and stays off; nothing to rebuild";
  if (starts("abi_unknown_no_base_btf"))
    return "the build could not decode amdgpu's BTF: rebuild while running that kernel, with bpftool and its "
           "headers installed ('sudo dkms autoinstall -k $(uname -r)')";
  if (starts("abi_unknown_no_amdgpu_ko") || starts("abi_unknown_amdgpu_ko_has_no_btf"))
    return "the build found no amdgpu.ko with BTF for this kernel: install the kernel's modules, then rebuild "
           "('sudo dkms autoinstall -k $(uname -r)')";
  if (starts("abi_unknown_"))
    return "amdgpu's hook functions differ from what rdna1_vmfix understands (the token names the check that "
           "failed): it stays off on this kernel; please report it with 'rdna1-vmfix report'";
  if (starts("missing_symbol_"))
    return "amdgpu lacks a function rdna1_vmfix hooks: it stays off on this kernel; please report it";
  if (starts("register_"))
    return "the kernel refused a probe (kprobes disabled or restricted?): see 'sudo dmesg | grep rdna1_vmfix'";
  if (reason == "mode_off") return "mode is off, so no probe is armed: 'echo enforce | sudo tee "
                                   "/sys/module/rdna1_vmfix/parameters/mode' arms it";
  return "";
}

std::string status_text(const SystemStatus& s) {
  std::string out = "GPUs:\n";
  if (s.gpus.empty()) out += "  no AMD GPU found (KFD topology and PCI)\n";
  for (const auto& g : s.gpus) {
    out += fmt::format("  {}  {:04x}:{:04x}  {:<14} {:<8} {}", g.bdf, g.vendor, g.device,
                       g.family.empty() ? "-" : g.family, g.gfx.empty() ? "-" : g.gfx,
                       g.rdna1 ? "RDNA1" : "not RDNA1");
    out += fmt::format("  driver {}", g.driver.empty() ? "none" : g.driver);
    if (g.kfd_node) out += fmt::format("  kfd node {}", *g.kfd_node);
    if (g.render_minor) out += fmt::format("  renderD{}", *g.render_minor);
    if (!g.marketing_name.empty()) out += fmt::format("  \"{}\"", g.marketing_name);
    out += "\n";
  }
  const ModuleState& m = s.module;
  out += "Module rdna1_vmfix: ";
  if (!m.loaded && !m.has_status) {
    out += "not loaded\n";
  } else if (m.status) {
    const auto f = [&](const char* k) {
      const auto it = m.status->fields.find(k);
      return it == m.status->fields.end() ? std::string("?") : it->second;
    };
    out += fmt::format("loaded {}, state {}", f("version"),
                       term::paint(f("state"), f("state") == "armed" ? term::Tone::kGood : term::Tone::kBad, term::out_colour()));
    if (f("reason") != "-" && f("reason") != "?") out += fmt::format(" ({})", f("reason"));
    out += fmt::format(", abi {}, mode {}, cc_to {}, coherent {}, devices {}\n", f("abi"), f("mode"), f("cc_to"),
                       f("coherent"), f("devices"));
    if (const std::string advice = module_reason_advice(f("reason")); !advice.empty())
      out += fmt::format("  what to do: {}\n", advice);
    for (const auto& h : m.status->hooks) {
      auto g = [&](const char* k) {
        const auto it = h.find(k);
        return it == h.end() ? std::string("?") : it->second;
      };
      out += fmt::format("  hook {} ({} {}, {}): {}, hits {}, missed {}\n", g("name"), g("kind"), g("symbol"),
                         g("role"), g("armed") == "1" ? "armed" : "not armed", g("hits"), g("missed"));
    }
    for (const auto& d : m.status->devices) {
      auto g = [&](const char* k) {
        const auto it = d.find(k);
        return it == d.end() ? std::string("?") : it->second;
      };
      out += fmt::format("  device {} {} {} {}: {}\n", g("bdf"), g("pci"), g("family"), g("gfx"),
                         g("scoped") == "1" ? "scoped (policy applies)" : "not scoped");
    }
  } else {
    out += "loaded, status unavailable\n";
  }
  if (m.counters) {
    for (std::size_t i = 0; i < m.counters->devices.size(); ++i) {
      const auto& c = m.counters->devices[i];
      auto g = [&](const char* k) {
        const auto it = c.find(k);
        return it == c.end() ? std::uint64_t{0} : it->second;
      };
      out += fmt::format("  counters {}: ranges {}, seen cc {}, rewritten {}, would_rewrite {}, cc requests {}\n",
                         m.counters->device_bdfs[i], g("ranges"), g("seen_cc"), g("rewritten"), g("would_rewrite"),
                         g("req_cc_get_vm_pte") + g("req_cc_map_mtype"));
    }
    if (m.counters->other_ranges) out += fmt::format("  other devices: {} ranges (never touched)\n", *m.counters->other_ranges);
  }
  if (m.recent) out += fmt::format("  recent rule hits: {}\n", m.recent->rewrites.size());
  if (!m.params.empty()) {
    out += "  parameters:";
    for (const auto& [k, v] : m.params) out += fmt::format(" {}={}", k, v);
    out += "\n";
  }
  for (const auto& e : m.errors) out += "  error: " + e + "\n";
  for (const auto& w : s.warnings) out += "warning: " + w + "\n";
  return out;
}

}  // namespace vmfix

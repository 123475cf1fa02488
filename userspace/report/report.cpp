// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "report/report.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "faults/faults.hpp"
#include "common/text.hpp"

namespace vmfix::report {

namespace {

using nlohmann::json;

// Packages of the ROCm stack as Debian, Ubuntu and AMD's repositories name them.
const std::vector<std::string> kRocmPackagePrefixes = {
    "libamdhip64", "libhsa-runtime64", "libhsakmt", "rocm-core", "rocm-hip-runtime", "hip-runtime-amd",
    "hsa-rocr", "rocminfo", "librocblas", "librocsparse", "librocrand", "librocfft", "librocsolver",
    "libmiopen", "miopen-hip", "rocblas", "hipblaslt", "rocm-smi", "librocm-smi", "librccl", "rccl",
    "amdgpu-dkms", "rdna1-vmfix", "firmware-amd-graphics", "linux-firmware"};

std::string first_line(std::string_view s) { return std::string(text::trim(s.substr(0, s.find('\n')))); }

std::string str(const json& j, const char* key, const char* dflt = "-") {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return dflt;
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

// Markdown table cells: no pipes or newlines.
std::string cell(std::string s) {
  for (auto& c : s)
    if (c == '|' || c == '\n') c = ' ';
  return s.empty() ? "-" : s;
}

json torch_doc(const pyenv::TorchInstall& t) {
  json j = pyenv::torch_json(t);
  j.erase("libraries");  // the per-library list is in doctor's library section already
  return j;
}

json faults_doc(const doctor::Report& r, std::size_t max) {
  const auto& in = r.input;
  if (!in.faults) return {{"read", false}, {"source", in.log_source}};
  const auto& ev = in.faults->events;
  json events = json::array();
  const std::size_t first = ev.size() > max ? ev.size() - max : 0;
  for (std::size_t i = first; i < ev.size(); ++i) events.push_back(faults::event_json(ev[i]));
  return {{"read", true},
          {"source", in.log_source},
          {"total", ev.size()},
          {"shown", events.size()},
          {"verdict", {{"class", faults::class_name(in.faults->verdict.cls)}, {"summary", in.faults->verdict.summary}}},
          {"events", events}};
}

json census_doc(const CensusCache& c) {
  if (!c.error.empty()) return {{"path", c.path}, {"present", true}, {"error", c.error}};
  if (!c.present) return {{"path", c.path}, {"present", false}};
  const json& d = c.doc;
  json run = d.contains("run") && d["run"].is_object() ? d["run"] : json::object();
  return {{"path", c.path},
          {"present", true},
          {"date", str(run, "date")},
          {"kernel", str(run, "kernel")},
          {"rocm", str(run, "rocm")},
          {"libhsakmt", str(run, "libhsakmt")},
          {"conclusion", str(d, "conclusion")},
          {"exit_code", d.value("exit_code", -1)},
          {"document", d}};
}

}  // namespace

std::map<std::string, std::string> parse_os_release(std::string_view t) { return text::parse_key_values(t); }

SystemInfo read_system(const HostFiles& host) {
  SystemInfo s;
  auto os = host.read("/etc/os-release", std::size_t{64} * 1024);
  if (!os) os = host.read("/usr/lib/os-release", std::size_t{64} * 1024);
  if (os) s.os_release = parse_os_release(*os);
  s.kernel_release = first_line(host.read("/proc/sys/kernel/osrelease", 4096).value_or(""));
  s.kernel_version = first_line(host.read("/proc/version", 4096).value_or(""));
  s.hostname = first_line(host.read("/proc/sys/kernel/hostname", 4096).value_or(""));
  if (s.hostname.empty()) s.hostname = first_line(host.read("/etc/hostname", 4096).value_or(""));
  return s;
}

std::vector<Package> parse_dpkg_status(std::string_view t, const std::vector<std::string>& prefixes) {
  std::vector<Package> out;
  Package cur;
  bool installed = false;
  auto flush = [&]() {
    if (installed && !cur.name.empty() &&
        std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return text::starts_with(cur.name, p); }))
      out.push_back(cur);
    cur = {};
    installed = false;
  };
  while (!t.empty()) {
    const auto nl = t.find('\n');
    const std::string_view line = t.substr(0, nl);
    t = nl == std::string_view::npos ? std::string_view() : t.substr(nl + 1);
    if (text::trim(line).empty()) {
      flush();
    } else if (text::starts_with(line, "Package: ")) {
      cur.name = std::string(text::trim(line.substr(9)));
    } else if (text::starts_with(line, "Version: ")) {
      cur.version = std::string(text::trim(line.substr(9)));
    } else if (text::starts_with(line, "Status: ")) {
      installed = text::trim(line.substr(8)) == "install ok installed";
    }
  }
  flush();
  std::sort(out.begin(), out.end(), [](const Package& a, const Package& b) { return a.name < b.name; });
  return out;
}

RocmInfo read_rocm(const HostFiles& host) {
  RocmInfo r;
  for (const auto& n : host.list("/opt")) {
    if (!text::starts_with(n, "rocm")) continue;
    const std::string v = first_line(host.read("/opt/" + n + "/.info/version", 4096).value_or(""));
    if (!v.empty() || host.is_dir("/opt/" + n + "/lib")) r.opt_rocm.push_back({"/opt/" + n, v.empty() ? "unknown" : v});
  }
  if (const auto st = host.read("/var/lib/dpkg/status", 64U << 20)) r.packages = parse_dpkg_status(*st, kRocmPackagePrefixes);
  return r;
}

std::vector<Package> read_rocm_wheels(const HostFiles& host, const std::vector<pyenv::PythonEnv>& envs) {
  std::vector<Package> out;
  for (const auto& e : envs)
    for (const auto& site : e.site_dirs)
      for (const auto& n : host.list(site)) {
        if (!n.ends_with(".dist-info")) continue;
        const std::string stem = n.substr(0, n.size() - 10);
        const auto dash = stem.find('-');
        if (dash == std::string::npos) continue;
        const std::string name = stem.substr(0, dash);
        if (!text::starts_with(name, "rocm") && !text::starts_with(name, "amd_torch_device")) continue;
        out.push_back({e.prefix + ": " + name, stem.substr(dash + 1)});
      }
  return out;
}

GpuSysfs read_gpu_sysfs(const HostFiles& host, const std::string& bdf) {
  GpuSysfs g;
  g.bdf = bdf;
  const std::string dev = "/sys/bus/pci/devices/" + bdf;
  auto one = [&](const char* f) { return text::printable(first_line(host.read(dev + "/" + f, 4096).value_or("")), 80); };
  for (const auto& n : host.list(dev + "/fw_version")) {
    const std::string v = first_line(host.read(dev + "/fw_version/" + n, 256).value_or(""));
    if (v.empty()) continue;
    std::string name = n;
    if (name.ends_with("_fw_version")) name.resize(name.size() - 11);
    g.firmware[name] = text::printable(v, 40);
  }
  g.vbios = one("vbios_version");
  const std::string sv = one("subsystem_vendor");
  const std::string sd = one("subsystem_device");
  if (!sv.empty() && !sd.empty())
    g.subsystem = fmt::format("{}:{}", sv.substr(text::starts_with(sv, "0x") ? 2 : 0), sd.substr(text::starts_with(sd, "0x") ? 2 : 0));
  g.revision = one("revision");
  const std::string speed = one("current_link_speed");
  const std::string width = one("current_link_width");
  if (!speed.empty()) g.link = width.empty() ? speed : fmt::format("{} x{}", speed, width);
  g.vram_total = one("mem_info_vram_total");
  for (const char* f : {"serial_number", "unique_id"})
    if (auto v = one(f); !v.empty()) g.serials.push_back(v);
  return g;
}

std::string census_state_dir(const std::map<std::string, std::string>& env) {
  const auto it = env.find("VMFIX_STATE_DIR");
  return it != env.end() && !it->second.empty() ? it->second : "/var/lib/rdna1-vmfix";
}

CensusCache read_census(const HostFiles& host, const std::string& state_dir) {
  CensusCache c;
  c.path = state_dir + "/census.json";
  if (!host.exists(c.path)) return c;
  c.present = true;
  const auto data = host.read(c.path, 4U << 20);
  if (!data) {
    c.error = "cannot be read";
    return c;
  }
  auto doc = json::parse(*data, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("command", "") != "census") {
    c.error = "not a census result document";
    return c;
  }
  c.doc = std::move(doc);
  return c;
}

void add_login_users(const HostFiles& host, Input& in) {
  for (const auto& e : parse_passwd(host.read("/etc/passwd").value_or("")))
    if (e.uid >= 1000 && e.uid < 65534) {
      in.user_names.push_back(e.name);
      in.homes.push_back(e.home);
    }
  if (in.env.invoking) {
    in.user_names.push_back(in.env.invoking->name);
    in.homes.push_back(in.env.invoking->home);
  }
}

json build(const Input& in, const Options& opt) {
  const doctor::Report& dr = in.doctor;
  const json st = status_json(dr.input.status);
  json gpus = st["gpus"];
  for (auto& g : gpus) {
    const std::string bdf = g.value("bdf", "");
    for (const auto& s : in.gpu_sysfs) {
      if (s.bdf != bdf) continue;
      g["firmware"] = s.firmware;
      g["vbios"] = s.vbios.empty() ? json() : json(s.vbios);
      g["subsystem"] = s.subsystem.empty() ? json() : json(s.subsystem);
      g["revision"] = s.revision.empty() ? json() : json(s.revision);
      g["link"] = s.link.empty() ? json() : json(s.link);
      g["vram_total"] = s.vram_total.empty() ? json() : json(s.vram_total);
      g["serial_numbers"] = s.serials;
    }
  }
  json rocm_opt = json::array();
  for (const auto& p : in.rocm.opt_rocm) rocm_opt.push_back({{"path", p.name}, {"version", p.version}});
  json pkgs = json::array();
  for (const auto& p : in.rocm.packages) pkgs.push_back({{"name", p.name}, {"version", p.version}});
  json wheels = json::array();
  for (const auto& p : in.rocm.wheels) wheels.push_back({{"name", p.name}, {"version", p.version}});
  json torch = json::array();
  for (const auto& t : in.torch) torch.push_back(torch_doc(t));
  const json dj = doctor::report_json(dr);
  json doc = {
      {"schema", kSchema},
      {"command", "report"},
      {"tool", {{"name", "rdna1-vmfix"}, {"version", in.tool_version}, {"commit", in.tool_commit}}},
      {"generated", in.generated},
      {"system",
       {{"distribution", in.system.os_release.count("PRETTY_NAME") ? in.system.os_release.at("PRETTY_NAME") : "unknown"},
        {"id", in.system.os_release.count("ID") ? in.system.os_release.at("ID") : ""},
        {"version_id", in.system.os_release.count("VERSION_ID") ? in.system.os_release.at("VERSION_ID") : ""},
        {"codename", in.system.os_release.count("VERSION_CODENAME") ? in.system.os_release.at("VERSION_CODENAME") : ""},
        {"kernel", in.system.kernel_release.empty() ? dr.input.kernel_release : in.system.kernel_release},
        {"kernel_build", in.system.kernel_version},
        {"hostname", in.system.hostname}}},
      {"rocm", {{"opt_rocm", rocm_opt}, {"packages", pkgs}, {"wheels", wheels}}},
      {"pytorch", torch},
      {"gpus", gpus},
      {"module", st["module"]},
      {"doctor",
       {{"verdict", dj["verdict"]}, {"notes", dj["notes"]}, {"exit_code", dr.exit_code}, {"libraries", dj["libraries"]}}},
      {"environment", envscan::result_json(in.env)},
      {"faults", faults_doc(dr, opt.max_faults)},
      {"census", census_doc(in.census)},
      {"check", in.check ? *in.check : json()},
  };
  if (dr.input.signing) doc["module"]["signing"] = dj["signing"];
  if (!opt.redact) {
    doc["redaction"] = {{"enabled", false}};
    return doc;
  }
  Redactor r;
  for (const auto& h : in.homes) r.add(Secret::kHomePath, h);
  for (const auto& u : in.user_names) r.add(Secret::kUserName, u);
  r.add(Secret::kHostName, in.system.hostname);
  if (const auto dot = in.system.hostname.find('.'); dot != std::string::npos)
    r.add(Secret::kHostName, in.system.hostname.substr(0, dot));
  for (const auto& g : in.gpu_sysfs)
    for (const auto& s : g.serials) r.add(Secret::kSerial, s);
  const json tool = doc["tool"];
  r.apply(doc);
  doc["tool"] = tool;  // versions are never secrets (and a commit hash may look like one)
  doc["redaction"] = {{"enabled", true},
                      {"replaced", r.summary()},
                      {"how", "user names -> <user>, home directories -> <home>, host names -> <host>, serial numbers "
                              "-> <serial>; --no-redact keeps them"}};
  return doc;
}

namespace {

// The title, the redaction note and the system table.
std::string md_header(const json& d) {
  std::string s;
  const json& tool = d["tool"];
  s += fmt::format("# rdna1-vmfix report\n\n_{} {} (commit {}), generated {}_\n\n", str(tool, "name"), str(tool, "version"),
                   str(tool, "commit"), str(d, "generated"));
  const json& red = d["redaction"];
  if (red.value("enabled", false)) {
    const json& c = red["replaced"];
    s += fmt::format("> Redacted: {} user name(s), {} home path(s), {} host name(s), {} serial number(s) replaced by "
                     "placeholders (`--no-redact` keeps them).\n\n",
                     c.value("user_names", 0), c.value("home_paths", 0), c.value("host_names", 0),
                     c.value("serial_numbers", 0));
  } else {
    s += "> Not redacted (`--no-redact`): this report may contain user names, home paths, the host name and serial "
         "numbers.\n\n";
  }
  const json& sys = d["system"];
  s += "## System\n\n| | |\n|---|---|\n";
  s += fmt::format("| Distribution | {} |\n| Kernel | {} |\n| Host | {} |\n\n", cell(str(sys, "distribution")),
                   cell(str(sys, "kernel")), cell(str(sys, "hostname")));
  return s;
}

std::string md_doctor(const json& doc) {
  std::string s;
  const json& v = doc["verdict"];
  s += fmt::format("## Doctor\n\n**Verdict: {}** ({})\n", str(v, "class"), str(v, "summary"));
  if (v.contains("evidence") && !v["evidence"].empty()) s += "\n";
  if (v.contains("evidence"))
    for (const auto& e : v["evidence"]) s += fmt::format("- evidence: {}\n", e.get<std::string>());
  if ((!v.contains("steps") || v["steps"].empty()) && v.contains("advice") && v["advice"].is_string() &&
      !v["advice"].get<std::string>().empty())
    s += fmt::format("\nWhat to do: {}\n", v["advice"].get<std::string>());
  if (v.contains("steps") && !v["steps"].empty()) {
    s += "\nWhat to do:\n\n";
    std::size_t n = 0;
    for (const auto& st : v["steps"]) {
      s += fmt::format("{}. {}\n", ++n, str(st, "what", ""));
      if (st.contains("commands") && !st["commands"].empty()) {
        s += "   ```sh\n";
        for (const auto& c : st["commands"]) s += "   " + c.get<std::string>() + "\n";
        s += "   ```\n";
      }
    }
  }
  for (const auto& n : doc["notes"]) s += fmt::format("- note: {}\n", n.get<std::string>());
  return s;
}

std::string md_gpus(const json& d) {
  std::string s = "\n## GPUs\n\n";
  if (d["gpus"].empty()) s += "No AMD GPU found.\n";
  for (const auto& g : d["gpus"]) {
    s += fmt::format("- `{}` {} {} {}{}, driver {}, KFD node {}\n", str(g, "bdf"), str(g, "pci_id"), str(g, "family"),
                     str(g, "gfx"), g.value("rdna1", false) ? " (RDNA1)" : "", str(g, "driver", "none"),
                     str(g, "kfd_node", "none"));
    if (g.contains("vbios") && !g["vbios"].is_null()) s += fmt::format("  - VBIOS {}\n", g["vbios"].get<std::string>());
    if (g.contains("subsystem") && !g["subsystem"].is_null())
      s += fmt::format("  - board {}, revision {}, link {}\n", str(g, "subsystem"), str(g, "revision"), str(g, "link"));
    if (g.contains("firmware") && !g["firmware"].empty()) {
      std::string fw;
      for (const auto& [k, val] : g["firmware"].items()) fw += fmt::format("{}{} {}", fw.empty() ? "" : ", ", k, val.get<std::string>());
      s += "  - firmware: " + fw + "\n";
    }
    if (g.contains("serial_numbers") && !g["serial_numbers"].empty())
      s += fmt::format("  - serial: {}\n", fmt::join(g["serial_numbers"].get<std::vector<std::string>>(), ", "));
  }
  return s;
}

std::string md_module(const json& m) {
  std::string s = "\n## rdna1_vmfix module\n\n";
  if (m["status"].is_null()) {
    s += m.value("loaded", false) ? "Loaded; status unreadable.\n" : "Not loaded.\n";
  } else {
    s += fmt::format("Version {}, state {}, mode {}, kernel {}{}\n", str(m["status"], "version"), str(m["status"], "state"),
                     str(m["status"], "mode"), str(m["status"], "kernel"),
                     str(m["status"], "reason", "").empty() || str(m["status"], "reason", "") == "-" ? ""
                                                                                                 : " (" + str(m["status"], "reason") + ")");
  }
  if (m.contains("counters") && !m["counters"].is_null())
    for (const auto& dev : m["counters"]["devices"]) {
      std::string c;
      for (const auto& [k, val] : dev.items())
        if (k != "bdf") c += fmt::format("{}{}={}", c.empty() ? "" : " ", k, val.dump());
      s += fmt::format("- counters `{}`: {}\n", str(dev, "bdf"), c);
    }
  if (m.contains("signing")) s += fmt::format("- signing: {}\n", str(m["signing"], "summary"));
  return s;
}

// ROCm installs and the PyTorch installs with the targets they carry.
std::string md_rocm(const json& d) {
  std::string s = "\n## ROCm\n\n";
  const json& rocm = d["rocm"];
  if (rocm["opt_rocm"].empty() && rocm["packages"].empty() && rocm["wheels"].empty())
    s += "No ROCm installation found (/opt/rocm*, dpkg, Python wheels).\n";
  for (const auto& p : rocm["opt_rocm"]) s += fmt::format("- `{}`: {}\n", str(p, "path"), str(p, "version"));
  for (const auto& p : rocm["packages"]) s += fmt::format("- {} {}\n", str(p, "name"), str(p, "version"));
  for (const auto& p : rocm["wheels"]) s += fmt::format("- wheel `{}` {}\n", str(p, "name"), str(p, "version"));
  s += "\n## PyTorch\n\n";
  if (d["pytorch"].empty()) s += "No PyTorch install found.\n";
  else s += "| where | version | HIP | CUDA | gfx targets carried |\n|---|---|---|---|---|\n";
  for (const auto& t : d["pytorch"]) {
    const std::string targets = !t.value("targets_known", false) ? "unknown"
                                : t["targets"].empty()          ? "none"
                                                                : fmt::format("{}", fmt::join(t["targets"].get<std::vector<std::string>>(), " "));
    s += fmt::format("| `{}` ({}) | {} | {} | {} | {} |\n", cell(str(t, "dir")), str(t, "env_kind"), cell(str(t, "version")),
                     cell(str(t, "hip")), cell(str(t, "cuda")), cell(targets));
  }
  return s;
}

std::string md_environment(const json& env) {
  std::string s = "\n## Environment (where ROCm variables are set)\n\n";
  if (env["findings"].empty()) s += "No HSA_*, ROCR_*, HIP_VISIBLE_DEVICES or related variable found.\n";
  for (const auto& f : env["findings"]) {
    const std::string where = f["file"].is_null() ? "this process" : f["line"].is_null() ? str(f, "file")
                                                                                       : fmt::format("{}:{}", str(f, "file"), str(f, "line"));
    s += fmt::format("- `{}={}` at `{}` ({}): {}{}\n", str(f, "name"), str(f, "value", ""), where, str(f, "applies"),
                     str(f, "judgement"), str(f, "why", "").empty() ? "" : ", " + str(f, "why"));
  }
  for (const auto& n : env["searched"]) s += fmt::format("- searched: {}\n", n.get<std::string>());
  return s;
}

std::string md_faults(const json& fl) {
  std::string s = "\n## Faults (kernel log)\n\n";
  if (!fl.value("read", false)) {
    s += fmt::format("Not read: {}\n", str(fl, "source"));
  } else {
    s += fmt::format("{}: {} event(s), last {} shown; verdict {}\n\n", str(fl, "source"), str(fl, "total"), str(fl, "shown"),
                     str(fl["verdict"], "class"));
    for (const auto& e : fl["events"])
      s += fmt::format("- line {}: {} {}{}: {}\n", e.contains("lines") ? str(e["lines"], "first") : "-", str(e, "class"),
                       str(e, "kind"), e.contains("device") ? " on " + str(e, "device") : "", str(e, "reason"));
  }
  return s;
}

// The cached census result and the quick check, when they ran.
std::string md_census_and_check(const json& d) {
  std::string s = "\n## Census (MTYPE per allocation kind)\n\n";
  const json& c = d["census"];
  if (!c.value("present", false))
    s += fmt::format("Not run on this machine (`{}` absent; `sudo rdna1-vmfix census` records it).\n", str(c, "path"));
  else if (c.contains("error"))
    s += fmt::format("`{}`: {}\n", str(c, "path"), str(c, "error"));
  else
    s += fmt::format("{} (run {} on kernel {}, ROCm {}, libhsakmt {})\n", str(c, "conclusion"), str(c, "date"),
                     str(c, "kernel"), str(c, "rocm"), str(c, "libhsakmt"));
  s += "\n## Quick check\n\n";
  if (d["check"].is_null())
    s += "Not run (`rdna1-vmfix report --check` runs it).\n";
  else
    s += fmt::format("```json\n{}\n```\n", d["check"].dump(1));
  return s;
}

}  // namespace

std::string markdown(const json& d) {
  // Doctor first: it is the answer; the rest is the evidence.
  return md_header(d) + md_doctor(d["doctor"]) + md_gpus(d) + md_module(d["module"]) + md_rocm(d) +
         md_environment(d["environment"]) + md_faults(d["faults"]) + md_census_and_check(d);
}

}  // namespace vmfix::report

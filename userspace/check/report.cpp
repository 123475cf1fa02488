// SPDX-License-Identifier: GPL-2.0 OR MIT
// Case selection and the three renderings of a `check` run (text table, JSON schema 1, Markdown).
// All three take the same Report.

#include <fnmatch.h>

#include <fmt/format.h>

#include "common/term.hpp"

#include "check/check.hpp"

namespace vmfix::harness {
namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto c = s.find(',', start);
    std::string part = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
    if (!part.empty()) out.push_back(part);
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

std::map<std::string, int> tally(const RunResult& r) {
  std::map<std::string, int> t;
  for (Verdict v : {Verdict::kPass, Verdict::kWrongResult, Verdict::kGpuFault, Verdict::kHang, Verdict::kUnsupported,
                    Verdict::kSkipped, Verdict::kCrash, Verdict::kMissingCodeObject})
    t[verdict_name(v)] = 0;
  for (const auto& c : r.cases) ++t[verdict_name(c.verdict)];
  return t;
}

std::string summary_line(const RunResult& r) {
  const auto t = tally(r);
  std::string s = fmt::format("{} cases:", r.cases.size());
  bool first = true;
  for (const char* k : {"pass", "wrong_result", "gpu_fault", "hang", "crash", "missing_code_object", "unsupported",
                        "skipped"}) {
    if (t.at(k) == 0 && std::string(k) != "pass") continue;
    s += fmt::format("{} {} {}", first ? "" : ",", t.at(k), k);
    first = false;
  }
  return s + fmt::format(" ({:.1f} s)", r.wall_s);
}

// The note column: why, in one line.
std::string note(const CaseResult& c) {
  std::string n = c.reason;
  if (!c.fault_decoded.empty()) n += (n.empty() ? "" : "; kernel log: ") + c.fault_decoded;
  if (n.size() > 110) n = n.substr(0, 107) + "...";
  return n;
}

std::string device_field(const nlohmann::json& d, const char* key) {
  return d.is_object() && d.contains(key) && d[key].is_string() ? d[key].get<std::string>() : "?";
}

// Which interpreter and torch a torch run used (from the worker's probe).
std::string torch_line(const nlohmann::json& d) {
  const auto str = [&](const char* k) {
    return d.is_object() && d.contains(k) && d[k].is_string() ? d[k].get<std::string>() : std::string();
  };
  std::string build = !str("torch_hip").empty()    ? "HIP " + str("torch_hip")
                      : !str("torch_cuda").empty() ? "CUDA " + str("torch_cuda")
                                                   : "CPU-only build";
  std::string s = fmt::format("interpreter: {} (Python {}); torch {} ({}) at {}", device_field(d, "python"),
                              device_field(d, "python_version"), device_field(d, "torch_version"), build,
                              device_field(d, "torch_path"));
  if (d.is_object() && d.contains("dnn_version") && d["dnn_version"].is_number())
    s += fmt::format("; {} {}", device_field(d, "dnn_library"), d["dnn_version"].get<long long>());
  if (!str("hsa_override_gfx_version").empty()) s += "; HSA_OVERRIDE_GFX_VERSION=" + str("hsa_override_gfx_version");
  if (!str("missing_code_object").empty()) s += "\nmissing code objects: " + str("missing_code_object");
  return s;
}

std::string err_cell(const CaseResult& c) { return c.has_numbers ? fmt::format("{:.2e}", c.max_abs_err) : "-"; }

// A case the worker described (torch): its own fields, as it listed them.
nlohmann::json described_json(const CaseSpec& spec) {
  const auto d = nlohmann::json::parse(spec.described, nullptr, false);
  if (!d.is_object()) return {{"id", spec.id}};
  return {{"id", spec.id},
          {"kernel", fmt::format("conv2d.{}", d.value("pass", "?"))},
          {"algo", d.value("algo", "")},
          {"layout", d.value("layout", "")},
          {"dtype", d.value("dtype", "")},
          {"shape", d.value("shape", nlohmann::json::object())},
          {"memory", d.value("mem", "")}};
}

// The memory kind's name of a case, whichever table it comes from.
std::string case_mem_name(const CaseSpec& spec) {
  if (spec.described.empty()) return mem_name(spec.mem);
  const auto d = nlohmann::json::parse(spec.described, nullptr, false);
  return d.is_object() ? d.value("mem", "?") : "?";
}

nlohmann::json case_json(const CaseResult& c) {
  const Shape& s = shapes()[static_cast<std::size_t>(c.spec.shape)];
  nlohmann::json j = !c.spec.described.empty() ? described_json(c.spec) : nlohmann::json{{"id", c.spec.id},
                      {"kernel", algo_name(c.spec.algo)},
                      {"dtype", dtype_name(c.spec.dtype)},
                      {"accumulate", "fp32"},
                      {"shape",
                       {{"name", s.name}, {"origin", s.origin}, {"c", s.c}, {"h", s.h}, {"w", s.w}, {"k", s.k},
                        {"r", s.r}, {"s", s.s}, {"stride", s.stride}, {"pad", s.pad}, {"depthwise", s.depthwise}}},
                      {"memory", mem_name(c.spec.mem)}};
  j["memory_label"] = c.memory_label;
  j["verdict"] = verdict_name(c.verdict);
  j["reason"] = c.reason;
  j["wall_ms"] = c.wall_ms;
  j["pid"] = c.pid;
  if (c.spec.hidden()) j["planted"] = plant_name(c.spec.plant);
  if (c.has_numbers) {
    j["max_abs_err"] = c.max_abs_err;
    j["worst_ratio"] = c.worst_ratio;
    j["bad_elements"] = c.bad_elements;
    j["tolerance"] = {{"atol", c.atol}, {"rtol", c.rtol}};
    j["kernel_ms"] = c.kernel_ms;
  }
  if (c.exit_code >= 0) j["exit_code"] = c.exit_code;
  if (c.term_signal != 0) j["signal"] = c.term_signal;
  if (!c.error_text.empty() && c.verdict != Verdict::kPass) j["stderr"] = c.error_text;
  if (!c.kernel_log.empty()) j["kernel_log"] = c.kernel_log;
  if (!c.fault_decoded.empty()) j["fault"] = c.fault_decoded;
  return j;
}

std::string counters_text(const ModuleSysfs::Counters& c) {
  std::string s;
  for (const auto& [rec, values] : c) {
    s += "  " + rec + ":";
    for (const auto& [k, v] : values)
      if (v != 0) s += fmt::format(" {}={}", k, v);
    s += "\n";
  }
  return s;
}

}  // namespace

std::vector<CaseSpec> select_cases(const std::vector<CaseSpec>& profile, const std::string& filter) {
  const auto pats = split_commas(filter);
  if (pats.empty()) return profile;
  std::vector<CaseSpec> all = profile;
  const auto planted = planted_cases();
  all.insert(all.end(), planted.begin(), planted.end());
  std::vector<CaseSpec> out;
  for (const auto& c : all)
    for (const auto& p : pats) {
      if (c.hidden() && p.rfind("planted", 0) != 0) continue;
      if (fnmatch(p.c_str(), c.id.c_str(), 0) == 0) {
        out.push_back(c);
        break;
      }
    }
  return out;
}

int Report::exit_code() const {
  for (const auto& r : runs) {
    if (r.interrupted) return static_cast<int>(Exit::kRuntime);
  }
  // In the override experiment the overridden run is expected to fail on real RDNA1 hardware: it is
  // the experiment's measurement, not a failure of this machine. Only the native run decides.
  for (const auto& r : runs) {
    if (comparison == "override_experiment" && r.worker.variant != "native") continue;
    for (const auto& c : r.cases)
      if (is_failure(c.verdict)) return static_cast<int>(Exit::kProblem);
  }
  return 0;
}

nlohmann::json report_json(const Report& r) {
  nlohmann::json j = {{"schema", 1},
                      {"command", "check"},
                      {"backend", r.backend},
                      {"profile", r.profile},
                      {"device", r.device},
                      {"options",
                       {{"timeout_s", r.options.timeout_s},
                        {"jobs", r.options.jobs},
                        {"batch", r.options.batch},
                        {"cases", r.filter}}}};
  if (!r.comparison.empty()) j["comparison"] = r.comparison;
  j["runs"] = nlohmann::json::array();
  for (const auto& run : r.runs) {
    nlohmann::json jr = {{"variant", run.worker.variant},
                         {"worker", run.worker.path},
                         {"env", run.worker.env},
                         {"wall_s", run.wall_s},
                         {"kernel_log", {{"readable", run.kernel_log_readable}, {"note", run.kernel_log_note}}},
                         {"interrupted", run.interrupted},
                         {"summary", tally(run)}};
    jr["cases"] = nlohmann::json::array();
    for (const auto& c : run.cases) jr["cases"].push_back(case_json(c));
    if (auto it = r.counters.find(run.worker.variant); it != r.counters.end()) jr["module_counters_delta"] = it->second;
    j["runs"].push_back(jr);
  }
  if (!r.restored_mode.empty()) j["restored_mode"] = r.restored_mode;
  j["exit_code"] = r.exit_code();
  return j;
}

namespace {
// A verdict word, coloured on a terminal (pass green, failures red, skipped/unsupported yellow).
std::string painted(Verdict v) {
  const std::string name = verdict_name(v);
  return term::paint(name, term::verdict_tone(name), term::out_colour());
}
}  // namespace

std::string report_text(const Report& r) {
  std::string s = fmt::format("rdna1-vmfix check: backend {}, profile {}, device {} ({})\n", r.backend, r.profile,
                              device_field(r.device, "device"), device_field(r.device, "arch"));
  if (r.backend == "torch") s += torch_line(r.device) + "\n";
  if (r.runs.size() == 2) {
    // Side by side: one row per case, one verdict column per variant.
    const auto& a = r.runs[0];
    const auto& b = r.runs[1];
    std::vector<term::TableRow> rows;
    for (std::size_t i = 0; i < a.cases.size() && i < b.cases.size(); ++i) {
      const auto& ca = a.cases[i];
      const auto& cb = b.cases[i];
      const bool differ = ca.verdict != cb.verdict;
      rows.push_back({{ca.spec.id, painted(ca.verdict), painted(cb.verdict),
                       differ ? "DIFFERS " + note(cb) : std::string()},
                      ""});
    }
    s += term::table({{"CASE"}, {a.worker.variant}, {b.worker.variant}, {"NOTE", false, true}}, rows, term::out_width());
    for (const auto& run : r.runs) {
      s += fmt::format("{}: {}\n", run.worker.variant, summary_line(run));
      if (auto it = r.counters.find(run.worker.variant); it != r.counters.end())
        s += "module counters during this run (delta):\n" + counters_text(it->second);
    }
    if (!r.restored_mode.empty()) s += fmt::format("rdna1_vmfix mode restored to '{}'\n", r.restored_mode);
  } else {
    for (const auto& run : r.runs) {
      std::vector<term::TableRow> rows;
      for (const auto& c : run.cases)
        rows.push_back({{c.spec.id, painted(c.verdict), err_cell(c),
                         c.has_numbers ? fmt::format("{:.2f}", c.kernel_ms) : "-", note(c)},
                        ""});
      s += term::table({{"CASE"}, {"VERDICT"}, {"MAX_ERR", true}, {"KERN_MS", true}, {"NOTE", false, true}}, rows,
                       term::out_width());
      s += summary_line(run) + "\n";
      if (!run.kernel_log_readable)
        s += fmt::format("kernel log not read ({}): GPU faults are attributed from runtime messages only\n",
                         run.kernel_log_note);
    }
  }
  // Memory-kind legend from the labels the worker reported.
  std::map<std::string, std::string> legend;
  for (const auto& run : r.runs)
    for (const auto& c : run.cases)
      if (!c.memory_label.empty()) legend.emplace(case_mem_name(c.spec), c.memory_label);
  if (!legend.empty()) {
    s += "memory kinds:\n";
    std::vector<term::TableRow> rows;
    rows.reserve(legend.size());
    for (const auto& [k, v] : legend) rows.push_back({{"", k, v}, ""});
    s += term::table({{""}, {""}, {"", false, true}}, rows, term::out_width()).substr(1);  // no header line
  }
  s += fmt::format("result: {}\n", r.exit_code() == 0 ? "ok" : r.exit_code() == 1 ? "FAILURES" : "incomplete");
  return s;
}

std::string report_markdown(const Report& r) {
  std::string s = fmt::format("### rdna1-vmfix check: backend `{}`, profile `{}`\n\n", r.backend, r.profile);
  s += fmt::format("Device: {} (`{}`)\n\n", device_field(r.device, "device"), device_field(r.device, "arch"));
  if (r.backend == "torch") s += torch_line(r.device) + "\n\n";
  for (const auto& run : r.runs) {
    if (r.runs.size() > 1) s += fmt::format("#### {}\n\n", run.worker.variant);
    s += fmt::format("{}\n\n", summary_line(run));
    s += "| case | verdict | max abs err | kernel ms | note |\n|---|---|---|---|---|\n";
    for (const auto& c : run.cases) {
      std::string n = note(c);
      for (auto& ch : n)
        if (ch == '|') ch = '/';
      s += fmt::format("| `{}` | {} | {} | {} | {} |\n", c.spec.id, verdict_name(c.verdict), err_cell(c),
                       c.has_numbers ? fmt::format("{:.2f}", c.kernel_ms) : "-", n);
    }
    if (auto it = r.counters.find(run.worker.variant); it != r.counters.end())
      s += "\nModule counters during this run (delta):\n```\n" + counters_text(it->second) + "```\n";
    s += "\n";
  }
  s += fmt::format("Result: **{}**\n", r.exit_code() == 0 ? "ok" : r.exit_code() == 1 ? "failures" : "incomplete");
  return s;
}

}  // namespace vmfix::harness

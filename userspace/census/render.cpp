// SPDX-License-Identifier: GPL-2.0 OR MIT
// census: the table, the one-line conclusion and the JSON document.

#include <algorithm>

#include <fmt/format.h>

#include "census/census.hpp"
#include "common/term.hpp"
#include "common/output.hpp"

namespace vmfix::census {
namespace {

std::string join(const std::vector<std::string>& v, const char* sep, const char* empty = "-") {
  return v.empty() ? empty : fmt::format("{}", fmt::join(v, sep));
}

std::string path_name(Path p) {
  switch (p) {
    case Path::kAlloc: return "alloc";
    case Path::kUserptr: return "userptr";
    case Path::kSvm: return "svm";
  }
  return "?";
}

std::string size_text(std::uint64_t bytes) {
  if (bytes % (1ULL << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  return fmt::format("{} KiB", bytes >> 10);
}

}  // namespace

std::string CensusResult::conclusion() const {
  std::vector<std::string> unmeasured;
  for (const auto& r : rows)
    if (r.state == RowState::kFailed || r.state == RowState::kNotRun) unmeasured.push_back(r.kind.name);
  if (interrupted())
    return fmt::format("census interrupted by signal {}: {} not measured; the table is incomplete (everything "
                       "allocated was unmapped and freed{})",
                       signal, join(unmeasured, ", ", "no kind"), mode_restored ? ", the mode restored" : "");
  if (!unmeasured.empty())
    return fmt::format("census incomplete: {} could not be measured (see the notes); no conclusion about them",
                       join(unmeasured, ", "));
  if (!cleanup_errors.empty()) return "census incomplete: cleanup failed (see the errors above)";
  const auto cc = cc_kinds();
  const auto rw = rewrite_kinds();
  std::string s;
  if (cc.empty() && rw.empty()) {
    s = "no allocation kind is mapped CC on this machine: rdna1_vmfix changes nothing here";
  } else if (cc.empty()) {
    s = fmt::format("no allocation kind is mapped CC on this machine; enforce would still rewrite {}", join(rw, ", "));
  } else {
    s = fmt::format("mapped CC on this machine: {}; rdna1_vmfix in enforce rewrites {}", join(cc, ", "),
                    join(rw, ", ", "none of them"));
  }
  if (background_ranges > 0)
    s += fmt::format(" (the GPU was busy: {} ranges mapped by others in {} ms, so deltas may include theirs)",
                     background_ranges, baseline_ms);
  return s;
}

std::string census_text(const CensusResult& r) {
  const std::size_t width = term::out_width();
  const bool colour = term::out_colour();
  std::string out = term::wrap(
      fmt::format("census of {} {}at {} (KFD node {}, KFD interface {}): {} ({} pages) per kind, rdna1_vmfix in audit{}",
                  r.node.gfx, r.node.marketing_name.empty() ? "" : "(" + r.node.marketing_name + ") ", r.node.bdf,
                  r.node.id, r.kfd_version, size_text(r.size), r.size / 4096,
                  r.mode_restored ? fmt::format(" (mode {} restored)", r.original_mode) : " (mode NOT restored)"),
      width, 2);
  out += "\n";
  const std::vector<term::Column> cols = {{"kind"},        {"KFD flags", false, true}, {"ranges", true},
                                          {"MTYPE"},       {"rewrite", true},          {"rules", false, true}};
  std::vector<term::TableRow> rows;
  for (const auto& row : r.rows) {
    term::TableRow t;
    t.cells = {row.kind.name, row.kind.flags.describe(row.kind.path)};
    if (row.state == RowState::kMeasured) {
      std::string mt = join(row.mtypes(), ",", "none");
      if (row.cc()) mt = term::paint(mt, term::Tone::kBad, colour);
      t.cells.insert(t.cells.end(), {std::to_string(row.count("ranges")), mt, std::to_string(row.would_rewrite()),
                                     join(row.rules(), ", ")});
    } else {
      std::string state = row_state_name(row.state);
      t.cells.insert(t.cells.end(), {"-", "-", "-", "-"});
      std::replace(state.begin(), state.end(), '_', ' ');
      t.note = term::paint(state, term::verdict_tone(row_state_name(row.state)), colour) +
               (row.note.empty() ? "" : ": " + row.note);
    }
    rows.push_back(std::move(t));
  }
  out += term::table(cols, rows, width);
  for (const auto& e : r.cleanup_errors) out += term::wrap("error: " + e, width, 2);
  const term::Tone tone = !r.complete()                ? term::Tone::kBad
                          : !r.rewrite_kinds().empty() ? term::Tone::kWarn
                                                       : term::Tone::kGood;
  out += "\n" + term::wrap(term::paint("Conclusion:", tone, colour) + " " + r.conclusion() + ".", width, 2);
  return out;
}

nlohmann::json census_json(const CensusResult& r) {
  using nlohmann::json;
  json rows = json::array();
  for (const auto& row : r.rows) {
    json seen = json::object();
    for (const auto& [k, v] : row.delta)
      if (k.starts_with("seen_")) seen[k.substr(5)] = v;
    json rules = json::object();
    for (const auto& [k, v] : row.delta)
      if (k.starts_with("rule_")) rules[k.substr(5)] = v;
    rows.push_back({{"kind", row.kind.name},
                    {"what", row.kind.what},
                    {"path", path_name(row.kind.path)},
                    {"kfd_flags", row.kind.flags.describe(row.kind.path)},
                    {"state", row_state_name(row.state)},
                    {"note", row.note},
                    {"pages", row.pages},
                    {"ranges", row.count("ranges")},
                    {"mtypes", row.mtypes()},
                    {"seen", seen},
                    {"would_rewrite", row.would_rewrite()},
                    {"rules_fired", row.rules()},
                    {"rules", rules},
                    {"counters_delta", row.delta}});
  }
  return {{"tool", kToolName},
          {"version", VMFIX_VERSION},
          {"schema", kSchema},
          {"command", "census"},
          {"node",
           {{"id", r.node.id},
            {"gfx", r.node.gfx},
            {"bdf", r.node.bdf},
            {"pci_device", fmt::format("{:04x}", r.node.device_id)},
            {"marketing_name", r.node.marketing_name}}},
          {"kfd_interface", r.kfd_version},
          {"size_bytes", r.size},
          {"mode", {{"original", r.original_mode}, {"during", "audit"}, {"restored", r.mode_restored}}},
          {"background_ranges", r.background_ranges},
          {"baseline_ms", r.baseline_ms},
          {"rows", rows},
          {"complete", r.complete()},
          {"interrupted", r.interrupted()},
          {"signal", r.signal},
          {"cleanup_errors", r.cleanup_errors},
          {"cc_kinds", r.cc_kinds()},
          {"rewrite_kinds", r.rewrite_kinds()},
          {"conclusion", r.conclusion()},
          {"exit_code", r.exit_code()}};
}

}  // namespace vmfix::census

// SPDX-License-Identifier: GPL-2.0 OR MIT
// Plain and JSON renderers of `rdna1-vmfix isa` (schema 1); both take the same FileAudit.

#include <fmt/format.h>

#include "common/term.hpp"
#include "isa/demangle.hpp"

#include "isa/audit.hpp"
#include "common/output.hpp"

namespace vmfix {
namespace {

// `j` with the decode counts added (the same keys for a function and for an object).
nlohmann::json with_counts(const DecodeCounts& c, nlohmann::json j) {
  j["instructions"] = c.instructions;
  j["undecodable_on_target"] = c.undecodable_on_target;
  j["different_meaning"] = c.different_meaning;
  j["inst_prefetch"] = c.inst_prefetch;
  j["undecodable_own"] = c.undecodable_own;
  return j;
}

nlohmann::json kernel_json(const KernelAudit& k) {
  nlohmann::json ex = nlohmann::json::array();
  for (const auto& e : k.examples)
    ex.push_back({{"kind", e.kind}, {"address", hex64(e.address)}, {"bytes", e.bytes}, {"own", e.own},
                  {"on_target", e.on_target}});
  return with_counts(k, {{"name", k.name},
                         {"demangled", isa::demangle(k.name)},
                         {"kernel", k.is_kernel},
                         {"address", hex64(k.address)},
                         {"size", k.size},
                         {"mnemonics", k.by_mnemonic},
                         {"examples", ex}});
}

nlohmann::json object_json(const ObjectAudit& o) {
  const auto& i = o.info;
  nlohmann::json j = {
      {"target_id", i.target_id},
      {"processor", i.processor},
      {"xnack", i.xnack},
      {"sramecc", i.sramecc},
      {"code_object_version", i.code_object_version},
      {"e_flags", fmt::format("0x{:x}", i.e_flags)},
      {"bundle_id", i.bundle_id},
      {"container",
       {{"index", i.group},
        {"kind", container_kind_name(i.container)},
        {"offset", hex64(i.container_offset)},
        {"size", i.container_size},
        {"compression", i.compression},
        {"version", i.container_version},
        {"section", i.section}}},
      {"offset", hex64(i.offset)},
      {"size", i.size},
      {"in_compressed", i.in_compressed},
      {"verdict", o.verdict},
      {"audited", o.audited},
      {"note", o.note},
  };
  if (o.audited) {
    nlohmann::json ks = nlohmann::json::array();
    for (const auto& k : o.kernels)
      if (k.findings() > 0) ks.push_back(kernel_json(k));
    j["audit"] = with_counts(o, {{"functions", o.kernels.size()}, {"problems", o.problems}, {"functions_with_findings", ks}});
  }
  return j;
}

}  // namespace

nlohmann::json isa_json(const std::vector<FileAudit>& files, const AuditOptions& opt) {
  nlohmann::json fs = nlohmann::json::array();
  for (const auto& f : files) {
    nlohmann::json objs = nlohmann::json::array();
    for (const auto& o : f.objects) objs.push_back(object_json(o));
    fs.push_back({{"path", f.path},
                  {"size", f.size},
                  {"verdict", f.verdict},
                  {"override_10_3_0", f.override_10_3_0},
                  {"containers", f.containers},
                  {"containers_without_target", f.containers_without_target},
                  {"rejected_magic_hits", f.rejected_hits},
                  {"problems", f.problems},
                  {"code_objects", objs}});
  }
  return {{"schema", 1}, {"target", opt.target}, {"list_only", opt.list_only}, {"files", fs}};
}

std::string isa_text(const FileAudit& f, const AuditOptions& opt) {
  std::string s = fmt::format("{}: {} bytes, {} code object(s) in {} container(s)\n", f.path, f.size,
                              f.objects.size(), f.containers);
  if (!f.objects.empty())
    s += fmt::format("  {:>4} {:<17} {:>12} {:>9}  {:<24} {:<3} {}\n", "cont", "kind", "offset", "size", "target id",
                     "co", opt.list_only ? "native" : "verdict");
  for (const auto& o : f.objects) {
    const auto& i = o.info;
    std::string kind(container_kind_name(i.container));
    if (!i.compression.empty()) kind += "/" + i.compression;
    s += fmt::format("  {:>4} {:<17} {:>12} {:>9}  {:<24} v{:<2} {}\n", i.group, kind,
                     fmt::format("{}0x{:x}", i.in_compressed ? "+" : "", i.offset), i.size, i.target_id,
                     i.code_object_version, opt.list_only ? (o.verdict == "ok" ? "yes" : "no") : o.verdict);
    if (!o.audited) {
      if (!o.note.empty()) s += fmt::format("       {}\n", o.note);
      continue;
    }
    s += fmt::format("       audit for {}: {} instructions in {} functions: {} undecodable, {} different meaning, "
                     "{} s_inst_prefetch\n",
                     opt.target, o.instructions, o.kernels.size(), o.undecodable_on_target, o.different_meaning,
                     o.inst_prefetch);
    if (!o.note.empty()) s += fmt::format("       {}\n", o.note);
    for (const auto& p : o.problems) s += fmt::format("       not audited: {}\n", p);
    for (const auto& k : o.kernels) {
      if (k.findings() == 0) continue;
      s += fmt::format("       {} {}: {} undecodable, {} different meaning, {} s_inst_prefetch\n",
                       k.is_kernel ? "kernel" : "function", isa::demangle(k.name), k.undecodable_on_target, k.different_meaning,
                       k.inst_prefetch);
      for (const auto& e : k.examples)
        s += fmt::format("         0x{:x}  {:<17} {:<40} -> {}\n", e.address, e.bytes, e.own,
                         e.on_target.empty() ? std::string("(does not decode)") : e.on_target);
    }
  }
  for (const auto& p : f.problems) s += fmt::format("  not audited: {}\n", p);
  if (!opt.list_only) {
    s += fmt::format("  verdict for {}: {}", opt.target, term::paint(f.verdict, f.verdict == "ok" ? term::Tone::kGood : f.verdict == "no_code_objects" ? term::Tone::kInfo : term::Tone::kBad, term::out_colour()));
    if (f.containers_without_target > 0)
      s += fmt::format(" ({} of {} containers lack {} code)", f.containers_without_target, f.containers, opt.target);
    if (f.override_10_3_0 != "not_applicable") s += fmt::format("; under HSA_OVERRIDE_GFX_VERSION=10.3.0: {}", f.override_10_3_0);
    s += "\n";
  }
  return s;
}

}  // namespace vmfix

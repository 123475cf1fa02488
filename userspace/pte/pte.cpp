// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "pte/pte.hpp"

#include <array>
#include <bit>
#include <charconv>

#include <fmt/format.h>

#include "common/term.hpp"

namespace vmfix {

Result<std::uint64_t> parse_u64(std::string_view text) {
  const std::string shown(text);
  std::string_view digits = text;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  if (digits.empty()) return usage_error(shown, "not a number (expected 0x-prefixed hex or decimal)");
  // PTEs are printed in hex: digits that look like hex without its 0x are refused, not read as decimal.
  if (base == 10 && digits.find_first_not_of("0123456789") == std::string_view::npos &&
      ((digits.size() > 1 && digits[0] == '0') || digits.size() == 16))
    return usage_error(shown, fmt::format("ambiguous: looks like hex without 0x; write 0x{} for hex, or the decimal "
                                          "value without leading zeros",
                                          digits));
  if (base == 10 && digits.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos &&
      digits.find_first_of("abcdefABCDEF") != std::string_view::npos)
    return usage_error(shown, fmt::format("hex needs the 0x prefix: write 0x{}", digits));
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (ec == std::errc::result_out_of_range) return usage_error(shown, "out of range for a 64-bit PTE");
  if (ec != std::errc() || ptr != digits.data() + digits.size())
    return usage_error(shown, "not a number (expected 0x-prefixed hex or decimal)");
  return v;
}

namespace {

// The field table of the gfx10 layout, from the masks of kernel/vmfix_policy.h.
enum class FieldKind { kFlag, kFragment, kAddress, kMtype, kSoftware, kReserved };
struct FieldSpec {
  const char* name;
  std::uint64_t mask;
  FieldKind kind;
  const char* on = "";  // kFlag: meaning when set / clear
  const char* off = "";
};

constexpr std::uint64_t kKnownBits = VMFIX_PTE_VALID | VMFIX_PTE_SYSTEM | VMFIX_PTE_SNOOPED | VMFIX_PTE_TMZ |
                                     VMFIX_PTE_EXECUTABLE | VMFIX_PTE_READABLE | VMFIX_PTE_WRITEABLE |
                                     VMFIX_PTE_FRAG_MASK | VMFIX_PTE_ADDR_MASK | VMFIX_PTE_MTYPE_MASK | VMFIX_PTE_PRT |
                                     VMFIX_PTE_SW_MASK | VMFIX_PDE_PTE | VMFIX_PTE_LOG | VMFIX_PTE_TF | VMFIX_PTE_NOALLOC;

constexpr std::array kFields = {
    FieldSpec{"valid", VMFIX_PTE_VALID, FieldKind::kFlag, "valid", "not valid"},
    FieldSpec{"system", VMFIX_PTE_SYSTEM, FieldKind::kFlag, "system memory", "local VRAM"},
    FieldSpec{"snooped", VMFIX_PTE_SNOOPED, FieldKind::kFlag, "snooped (PCIe coherent with CPU caches)", "not snooped"},
    FieldSpec{"tmz", VMFIX_PTE_TMZ, FieldKind::kFlag, "trusted memory zone", "normal"},
    FieldSpec{"executable", VMFIX_PTE_EXECUTABLE, FieldKind::kFlag, "executable", "not executable"},
    FieldSpec{"readable", VMFIX_PTE_READABLE, FieldKind::kFlag, "readable", "not readable"},
    FieldSpec{"writeable", VMFIX_PTE_WRITEABLE, FieldKind::kFlag, "writeable", "not writeable"},
    FieldSpec{"fragment", VMFIX_PTE_FRAG_MASK, FieldKind::kFragment},
    FieldSpec{"address", VMFIX_PTE_ADDR_MASK, FieldKind::kAddress},
    FieldSpec{"mtype", VMFIX_PTE_MTYPE_MASK, FieldKind::kMtype},
    FieldSpec{"prt", VMFIX_PTE_PRT, FieldKind::kFlag, "partially resident (PRT)", "no"},
    FieldSpec{"sw", VMFIX_PTE_SW_MASK, FieldKind::kSoftware},
    FieldSpec{"pde_pte", VMFIX_PDE_PTE, FieldKind::kFlag, "PDE used as PTE (huge page)", "no"},
    FieldSpec{"log", VMFIX_PTE_LOG, FieldKind::kFlag, "log", "no"},
    FieldSpec{"tf", VMFIX_PTE_TF, FieldKind::kFlag, "translate further", "no"},
    FieldSpec{"noalloc", VMFIX_PTE_NOALLOC, FieldKind::kFlag, "no MALL allocation (reserved on GC 10.1)", "no"},
    FieldSpec{"reserved", ~kKnownBits, FieldKind::kReserved},
};

// The bits of v under mask, packed towards bit 0 (a plain shift for a contiguous field).
std::uint64_t extract(std::uint64_t v, std::uint64_t mask) {
  std::uint64_t out = 0;
  unsigned k = 0;
  for (unsigned b = 0; b < 64; ++b)
    if ((mask >> b) & 1U) out |= ((v >> b) & 1U) << k++;
  return out;
}

std::string mtype_meaning(std::uint64_t m) {
  switch (m) {
    case VMFIX_MTYPE_NC: return "NC (non-coherent, cached in GPU L2)";
    case VMFIX_MTYPE_WC: return "WC (write-combined)";
    case VMFIX_MTYPE_CC: return "CC (cache-coherent)";
    case VMFIX_MTYPE_UC: return "UC (uncached)";
    default: return fmt::format("reserved ({})", m);
  }
}

PteField decode_field(const FieldSpec& s, std::uint64_t f) {
  PteField out{s.name, static_cast<unsigned>(63 - std::countl_zero(s.mask)),
               static_cast<unsigned>(std::countr_zero(s.mask)), extract(f, s.mask), ""};
  switch (s.kind) {
    case FieldKind::kFlag: out.meaning = out.value != 0 ? s.on : s.off; break;
    case FieldKind::kFragment: out.meaning = fmt::format("{} KiB contiguous", 4ULL << out.value); break;
    case FieldKind::kAddress:
      out.value = f & s.mask;  // the page base address itself, not the page number
      out.meaning = fmt::format("page base 0x{:x}", out.value);
      break;
    case FieldKind::kMtype: out.meaning = mtype_meaning(out.value); break;
    case FieldKind::kSoftware: out.meaning = "software bits"; break;
    case FieldKind::kReserved:
      out.meaning = out.value != 0 ? "set (reserved bits 63:59/57 non-zero)" : "clear";
      break;
  }
  return out;
}

}  // namespace

std::vector<PteField> decode_pte(std::uint64_t f) {
  std::vector<PteField> out;
  out.reserve(kFields.size());
  for (const auto& s : kFields) out.push_back(decode_field(s, f));
  return out;
}

std::vector<PolicyOutcome> evaluate_all_policies(std::uint64_t flags) {
  std::vector<PolicyOutcome> out;
  const vmfix_pte_in in{flags, true};
  auto run = [&](vmfix_mode m, vmfix_cc_to c, vmfix_coherent h) {
    PolicyOutcome o;
    o.policy = vmfix_policy{m, c, h};
    vmfix_pte_apply(&o.policy, &in, &o.out);
    out.push_back(o);
  };
  run(VMFIX_MODE_OFF, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP);
  run(VMFIX_MODE_AUDIT, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP);
  run(VMFIX_MODE_ENFORCE, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP);
  run(VMFIX_MODE_ENFORCE, VMFIX_CC_TO_UC, VMFIX_COHERENT_SNOOP);
  run(VMFIX_MODE_ENFORCE, VMFIX_CC_TO_NC, VMFIX_COHERENT_ALL);
  return out;
}

std::string policy_label(const vmfix_policy& p) {
  return fmt::format("mode={} cc_to={} coherent={}", vmfix_mode_name(p.mode), vmfix_cc_to_name(p.cc_to),
                     vmfix_coherent_name(p.coherent));
}

std::vector<std::string> rule_names(std::uint32_t rules) {
  std::vector<std::string> names;
  for (unsigned i = 0; i < VMFIX_RULE_COUNT; ++i) {
    const auto r = static_cast<vmfix_rule>(1U << i);
    if (rules & r) names.emplace_back(vmfix_rule_name(r));
  }
  return names;
}

PteReport pte_report(std::uint64_t flags) { return {flags, decode_pte(flags), evaluate_all_policies(flags)}; }

nlohmann::json pte_report_json(const PteReport& r) {
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& f : r.fields) {
    fields[f.name] = {{"bits", fmt::format("{}:{}", f.hi, f.lo)},
                      {"value", f.name == "address" ? nlohmann::json(hex64(f.value)) : nlohmann::json(f.value)},
                      {"meaning", f.meaning}};
  }
  fields["mtype"]["name"] = vmfix_mtype_name(vmfix_pte_mtype(r.flags));
  nlohmann::json outcomes = nlohmann::json::array();
  for (const auto& o : r.outcomes) {
    outcomes.push_back({{"mode", vmfix_mode_name(o.policy.mode)},
                        {"cc_to", vmfix_cc_to_name(o.policy.cc_to)},
                        {"coherent", vmfix_coherent_name(o.policy.coherent)},
                        {"flags", hex64(o.out.flags)},
                        {"proposed", hex64(o.out.proposed)},
                        {"changed", o.out.changed},
                        {"mtype", vmfix_mtype_name(vmfix_pte_mtype(o.out.flags))},
                        {"snooped", (o.out.flags & VMFIX_PTE_SNOOPED) != 0},
                        {"rules", rule_names(o.out.rules)}});
  }
  return {{"schema", 1},
          {"pte", hex64(r.flags)},
          {"layout", "gfx10"},
          {"fields", fields},
          {"policy", outcomes},
          {"note", "policy applies only to RDNA1 (gfx1010/gfx1011/gfx1012) devices; others are never touched"}};
}

std::string pte_report_text(const PteReport& r) {
  const std::size_t width = term::out_width();
  std::string s = fmt::format("PTE {} (gfx10 layout)\n", hex64(r.flags));
  std::vector<term::TableRow> fields;
  for (const auto& f : r.fields) {
    const std::string range = f.hi == f.lo ? fmt::format("{}", f.lo) : fmt::format("{}:{}", f.hi, f.lo);
    const std::string val = f.name == "address" ? fmt::format("0x{:x}", f.value) : fmt::format("{}", f.value);
    fields.push_back({{"", f.name, "[" + range + "]", val, f.meaning}, ""});
  }
  s += term::table({{""}, {"field"}, {"bits", true}, {"value", true}, {"meaning", false, true}}, fields, width);
  s += "\nPolicy on an RDNA1 device (other GPUs are never touched):\n";
  std::vector<term::TableRow> rows;
  for (const auto& o : r.outcomes) {
    const auto rules = rule_names(o.out.rules);
    const std::string fired = rules.empty() ? "no rule" : fmt::format("{}", fmt::join(rules, ", "));
    std::string verdict;
    if (o.policy.mode == VMFIX_MODE_OFF)
      verdict = "untouched";
    else if (o.policy.mode == VMFIX_MODE_AUDIT)
      verdict = rules.empty() ? "untouched, nothing to report"
                              : fmt::format("untouched, would become {}", hex64(o.out.proposed));
    else
      verdict = o.out.changed ? fmt::format("rewritten to {}", hex64(o.out.flags)) : "untouched";
    // The MTYPE column shows a change as "CC -> NC" and an unchanged type once.
    const std::string in = vmfix_mtype_name(o.out.mtype_in);
    const std::string out = vmfix_mtype_name(vmfix_pte_mtype(o.out.flags));
    rows.push_back({{"", vmfix_mode_name(o.policy.mode), vmfix_cc_to_name(o.policy.cc_to),
                     vmfix_coherent_name(o.policy.coherent), in == out ? in : in + " -> " + out, fired, verdict},
                    ""});
  }
  // The MTYPE column is as wide as its widest possible cell ("RSVD4 -> UC"), so the columns after it
  // stand in the same place whatever the PTE. The policy takes three short columns and the rules
  // wrap at ", " so the whole table fits 80 columns: a line wider than the output would be re-wrapped
  // word by word and lose its columns.
  s += term::table({{""},
                    {"mode"},
                    {"cc_to"},
                    {"coherent"},
                    {fmt::format("{:<11}", "MTYPE")},
                    {"rules", false, true},
                    {"result", false, true}},
                   rows,
                   width);
  return s;
}

}  // namespace vmfix

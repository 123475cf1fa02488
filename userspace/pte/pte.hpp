// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Human view of a gfx10 GPUVM PTE and of what each policy mode makes of it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/output.hpp"
#include "common/result.hpp"
#include "vmfix_policy.h"

namespace vmfix {

// Parses a PTE value: 0x-prefixed hex, or decimal. Anything else is a usage error.
Result<std::uint64_t> parse_u64(std::string_view text);

struct PteField {
  std::string name;   // snake_case, also the JSON key
  unsigned hi = 0;    // bit range, inclusive
  unsigned lo = 0;
  std::uint64_t value = 0;
  std::string meaning;  // e.g. "CC (cache-coherent)"
};

std::vector<PteField> decode_pte(std::uint64_t flags);

struct PolicyOutcome {
  vmfix_policy policy{};
  vmfix_pte_out out{};
};

// One outcome per mode/option combination the tool shows, for a matching RDNA1 device.
std::vector<PolicyOutcome> evaluate_all_policies(std::uint64_t flags);

std::string policy_label(const vmfix_policy& p);
std::vector<std::string> rule_names(std::uint32_t rules);

// One decode of a PTE, shared by the text and JSON printers.
struct PteReport {
  std::uint64_t flags = 0;
  std::vector<PteField> fields;
  std::vector<PolicyOutcome> outcomes;
};
PteReport pte_report(std::uint64_t flags);
nlohmann::json pte_report_json(const PteReport& r);
std::string pte_report_text(const PteReport& r);

}  // namespace vmfix

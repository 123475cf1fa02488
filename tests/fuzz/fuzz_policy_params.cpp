// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: the policy core's module-parameter parsers (kernel/vmfix_policy.c: mode, cc_to,
// coherent, as the module's param_ops call them) and vmfix_pte_apply() with the policy they yield.
// Checks the contract, not just "no crash": a parsed name prints back to an equal value, and a
// rule only ever touches MTYPE and SNOOPED. Seeds: tests/fuzz/corpus/policy_params/.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "vmfix_policy.h"

namespace {

// Parses S with PARSE; on success the value's name must parse back to the same value.
template <typename E>
bool parse_roundtrip(const std::string& s, int (*parse)(const char*, E*), const char* (*name)(E), E* out) {
  if (parse(s.c_str(), out) != 0) return false;
  const char* n = name(*out);
  if (n == nullptr) __builtin_trap();
  E again{};
  if (parse(n, &again) != 0 || again != *out) __builtin_trap();
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Layout: 8 bytes of PTE flags, 1 byte device_matches, then the parameter text; a parameter is
  // one of three '\0'-separated strings, as module_param's set() receives them.
  if (size < 9) return 0;
  std::uint64_t flags = 0;
  std::memcpy(&flags, data, sizeof flags);
  const bool matches = (data[8] & 1) != 0;
  const std::string rest(reinterpret_cast<const char*>(data + 9), size - 9);
  std::string parts[3];
  std::size_t at = 0;
  for (auto& p : parts) {
    if (at > rest.size()) break;
    const auto end = rest.find('\0', at);
    p = rest.substr(at, end == std::string::npos ? std::string::npos : end - at);
    at = end == std::string::npos ? rest.size() + 1 : end + 1;
  }
  vmfix_policy policy{VMFIX_MODE_AUDIT, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP};
  parse_roundtrip(parts[0], vmfix_mode_parse, vmfix_mode_name, &policy.mode);
  parse_roundtrip(parts[1], vmfix_cc_to_parse, vmfix_cc_to_name, &policy.cc_to);
  parse_roundtrip(parts[2], vmfix_coherent_parse, vmfix_coherent_name, &policy.coherent);
  if (!vmfix_policy_valid(&policy)) __builtin_trap();  // parsers only yield valid values

  const vmfix_pte_in in{flags, matches};
  vmfix_pte_out out{};
  vmfix_pte_apply(&policy, &in, &out);
  if ((out.proposed ^ flags) & ~static_cast<std::uint64_t>(VMFIX_POLICY_TOUCHED_MASK)) __builtin_trap();
  if (policy.mode != VMFIX_MODE_ENFORCE && out.flags != flags) __builtin_trap();
  if ((!matches || policy.mode == VMFIX_MODE_OFF) && (out.proposed != flags || out.rules != 0)) __builtin_trap();
  if (out.changed != (out.flags != flags)) __builtin_trap();
  if (vmfix_mtype_name(out.mtype_in) == nullptr && out.mtype_in < 4) __builtin_trap();
  return 0;
}

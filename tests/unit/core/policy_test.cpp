// SPDX-License-Identifier: GPL-2.0 OR MIT
// The policy core, exhaustively: every MTYPE x VALID x SYSTEM x SNOOPED combination in every
// mode and option, plus the properties the module relies on.

#include <array>
#include <cstdint>
#include <random>

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>

#include "vmfix_policy.h"

namespace {

vmfix_pte_out apply(vmfix_policy p, std::uint64_t flags, bool match = true) {
  vmfix_pte_in in{flags, match};
  vmfix_pte_out out{};
  vmfix_pte_apply(&p, &in, &out);
  return out;
}

constexpr std::array kModes = {VMFIX_MODE_OFF, VMFIX_MODE_AUDIT, VMFIX_MODE_ENFORCE};
constexpr std::array kCcTo = {VMFIX_CC_TO_NC, VMFIX_CC_TO_UC};
constexpr std::array kCoherent = {VMFIX_COHERENT_SNOOP, VMFIX_COHERENT_ALL};

// Independent restatement of ARCHITECTURE.md's policy, used as the oracle for the exhaustive table.
std::uint64_t oracle(vmfix_policy p, std::uint64_t f) {
  const auto mtype = [](std::uint64_t v) { return (v >> 48) & 7; };
  const auto with_mtype = [](std::uint64_t v, std::uint64_t m) { return (v & ~(7ULL << 48)) | (m << 48); };
  const bool valid_sys = (f & 3) == 3;
  if (mtype(f) == 2) f = with_mtype(f, p.cc_to == VMFIX_CC_TO_UC ? 3 : 0);
  if (p.coherent == VMFIX_COHERENT_ALL && valid_sys) f = with_mtype(f, 3) | 4;
  if (valid_sys && mtype(f) == 3) f |= 4;
  return f;
}

// A realistic PTE body: address, fragment, R/W/X; the test varies the policy-relevant bits.
constexpr std::uint64_t kBody = 0x0000001234567000ULL | (5ULL << 7) | 0x70;

}  // namespace

TEST_CASE("every MTYPE x VALID x SYSTEM x SNOOPED combination follows the policy in every mode",
          "[core][pte]") {
  for (auto mode : kModes)
    for (auto cc_to : kCcTo)
      for (auto coherent : kCoherent)
        for (std::uint64_t mtype = 0; mtype < 8; ++mtype)
          for (std::uint64_t low = 0; low < 8; ++low) {  // VALID, SYSTEM, SNOOPED
            const vmfix_policy p{mode, cc_to, coherent};
            const std::uint64_t in = kBody | (mtype << 48) | low;
            const auto out = apply(p, in);
            const std::uint64_t want = mode == VMFIX_MODE_OFF ? in : oracle(p, in);
            INFO("mode " << mode << " cc_to " << cc_to << " coherent " << coherent << " in 0x" << std::hex << in);
            CHECK(out.proposed == want);
            CHECK(out.flags == (mode == VMFIX_MODE_ENFORCE ? want : in));
            CHECK(out.changed == (out.flags != in));
            CHECK(out.mtype_in == mtype);
            CHECK(out.mtype_out == ((want >> 48) & 7));
            CHECK((out.rules != 0) == (want != in));
          }
}

TEST_CASE("enforce turns MTYPE_CC into NC by default and keeps every other bit", "[core][pte]") {
  const auto out = apply({VMFIX_MODE_ENFORCE, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP}, 0x0002000000000073ULL);
  CHECK(out.flags == 0x0000000000000073ULL);
  CHECK(out.rules == VMFIX_RULE_CC_DOWNGRADE);
}

TEST_CASE("cc_to=uc maps a CC system page to UC and snoops it", "[core][pte]") {
  const auto out = apply({VMFIX_MODE_ENFORCE, VMFIX_CC_TO_UC, VMFIX_COHERENT_SNOOP}, 0x0002000000000073ULL);
  CHECK(out.flags == 0x0003000000000077ULL);
  CHECK(out.rules == (VMFIX_RULE_CC_DOWNGRADE | VMFIX_RULE_UC_SNOOP));
}

TEST_CASE("cc_to=uc on a VRAM page gives UC without SNOOPED", "[core][pte]") {
  const auto out = apply({VMFIX_MODE_ENFORCE, VMFIX_CC_TO_UC, VMFIX_COHERENT_SNOOP}, 0x0002000000000071ULL);
  CHECK(out.flags == 0x0003000000000071ULL);
  CHECK(out.rules == VMFIX_RULE_CC_DOWNGRADE);
}

TEST_CASE("an unsnooped UC system page gets SNOOPED (fine-grained emulation)", "[core][pte]") {
  const auto out = apply({VMFIX_MODE_ENFORCE, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP}, 0x0003000000000073ULL);
  CHECK(out.flags == 0x0003000000000077ULL);
  CHECK(out.rules == VMFIX_RULE_UC_SNOOP);
}

TEST_CASE("stock gfx10 mappings (NC, snooped UC, VRAM) pass through enforce untouched", "[core][pte]") {
  const vmfix_policy p{VMFIX_MODE_ENFORCE, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP};
  for (std::uint64_t f : {0x0000000000000071ULL, 0x0000000000000077ULL, 0x0003000000000077ULL,
                          0x0003000000000071ULL, 0x0001000000000073ULL, 0ULL}) {
    INFO(std::hex << f);
    const auto out = apply(p, f);
    CHECK_FALSE(out.changed);
    CHECK(out.rules == 0);
  }
}

TEST_CASE("an invalid UC system PTE is not snooped: only live mappings are rewritten", "[core][pte]") {
  const auto out = apply({VMFIX_MODE_ENFORCE, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP}, 0x0003000000000072ULL);
  CHECK_FALSE(out.changed);
}

TEST_CASE("coherent=all maps every valid system page UC + SNOOPED, leaves VRAM alone", "[core][pte]") {
  const vmfix_policy p{VMFIX_MODE_ENFORCE, VMFIX_CC_TO_NC, VMFIX_COHERENT_ALL};
  CHECK(apply(p, 0x0000000000000073ULL).flags == 0x0003000000000077ULL);
  CHECK(apply(p, 0x0000000000000073ULL).rules == VMFIX_RULE_COHERENT_ALL);
  CHECK(apply(p, 0x0000000000000071ULL).flags == 0x0000000000000071ULL);
}

TEST_CASE("audit reports the verdict but never changes the flags", "[core][pte]") {
  const auto out = apply({VMFIX_MODE_AUDIT, VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP}, 0x0002000000000073ULL);
  CHECK(out.flags == 0x0002000000000073ULL);
  CHECK(out.proposed == 0x0000000000000073ULL);
  CHECK(out.rules == VMFIX_RULE_CC_DOWNGRADE);
  CHECK_FALSE(out.changed);
}

TEST_CASE("off mode evaluates nothing", "[core][pte]") {
  const auto out = apply({VMFIX_MODE_OFF, VMFIX_CC_TO_NC, VMFIX_COHERENT_ALL}, 0x0002000000000073ULL);
  CHECK(out.flags == 0x0002000000000073ULL);
  CHECK(out.proposed == 0x0002000000000073ULL);
  CHECK(out.rules == 0);
}

TEST_CASE("random PTEs: no rule touches a bit outside MTYPE/SNOOPED, enforce is idempotent, "
          "audit never changes flags, a non-matching device is never touched",
          "[core][pte][property]") {
  std::mt19937_64 rng(0x5eed);
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t f = rng();
    for (auto cc_to : kCcTo)
      for (auto coherent : kCoherent) {
        const vmfix_policy enforce{VMFIX_MODE_ENFORCE, cc_to, coherent};
        const vmfix_policy audit{VMFIX_MODE_AUDIT, cc_to, coherent};
        const auto e = apply(enforce, f);
        REQUIRE((e.flags & ~VMFIX_POLICY_TOUCHED_MASK) == (f & ~VMFIX_POLICY_TOUCHED_MASK));
        REQUIRE(apply(enforce, e.flags).flags == e.flags);
        REQUIRE(apply(enforce, e.flags).rules == 0);
        REQUIRE(vmfix_pte_mtype(e.flags) != VMFIX_MTYPE_CC);
        const auto a = apply(audit, f);
        REQUIRE(a.flags == f);
        REQUIRE(a.proposed == e.proposed);
        REQUIRE(a.rules == e.rules);
        const auto other = apply(enforce, f, false);
        REQUIRE(other.flags == f);
        REQUIRE(other.rules == 0);
        REQUIRE_FALSE(other.changed);
      }
  }
}

TEST_CASE("an out-of-range policy value is refused and changes nothing", "[core][pte]") {
  vmfix_policy p{static_cast<vmfix_mode>(7), VMFIX_CC_TO_NC, VMFIX_COHERENT_SNOOP};
  CHECK_FALSE(vmfix_policy_valid(&p));
  CHECK(apply(p, 0x0002000000000073ULL).flags == 0x0002000000000073ULL);
  p = {VMFIX_MODE_ENFORCE, static_cast<vmfix_cc_to>(2), VMFIX_COHERENT_SNOOP};
  CHECK_FALSE(vmfix_policy_valid(&p));
  CHECK(apply(p, 0x0002000000000073ULL).flags == 0x0002000000000073ULL);
}

TEST_CASE("parameter names round-trip and parsing accepts one trailing newline only", "[core][params]") {
  vmfix_mode m{};
  CHECK(vmfix_mode_parse("enforce", &m) == 0);
  CHECK(m == VMFIX_MODE_ENFORCE);
  CHECK(vmfix_mode_parse("audit\n", &m) == 0);
  CHECK(m == VMFIX_MODE_AUDIT);
  m = VMFIX_MODE_OFF;
  CHECK(vmfix_mode_parse("enforce\n\n", &m) == -1);
  CHECK(vmfix_mode_parse("Enforce", &m) == -1);
  CHECK(vmfix_mode_parse("enf", &m) == -1);
  CHECK(vmfix_mode_parse("", &m) == -1);
  CHECK(vmfix_mode_parse("enforcex", &m) == -1);
  CHECK(m == VMFIX_MODE_OFF);
  vmfix_cc_to c{};
  CHECK(vmfix_cc_to_parse("uc", &c) == 0);
  CHECK(c == VMFIX_CC_TO_UC);
  CHECK(vmfix_cc_to_parse("cc", &c) == -1);
  vmfix_coherent h{};
  CHECK(vmfix_coherent_parse("all\n", &h) == 0);
  CHECK(h == VMFIX_COHERENT_ALL);
  CHECK(vmfix_coherent_parse("none", &h) == -1);
  CHECK(vmfix_mode_name(static_cast<vmfix_mode>(9)) == nullptr);
  CHECK(std::string(vmfix_mtype_name(2)) == "CC");
  CHECK(vmfix_mtype_name(8) == nullptr);
}

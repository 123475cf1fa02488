// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <catch2/catch_test_macros.hpp>

#include "pte/pte.hpp"

using vmfix::parse_u64;

TEST_CASE("PTE values parse as hex or decimal; garbage and overflow are usage errors", "[cli][pte]") {
  CHECK(*parse_u64("0x0002000000000073") == 0x0002000000000073ULL);
  CHECK(*parse_u64("0X10") == 16);
  CHECK(*parse_u64("115") == 115);
  CHECK(*parse_u64("0xffffffffffffffff") == ~0ULL);
  for (const char* bad : {"", "0x", "zz", "0x12g", "-1", " 1", "1 ", "0x10000000000000000", "18446744073709551616"}) {
    INFO(bad);
    const auto r = parse_u64(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == vmfix::Exit::kUsage);
  }
}

TEST_CASE("pte --json decodes every field and the per-mode verdicts", "[cli][pte]") {
  const auto j = vmfix::pte_report_json(vmfix::pte_report(0x0002000000000073ULL));
  CHECK(j["schema"] == 1);
  CHECK(j["pte"] == "0x0002000000000073");
  CHECK(j["fields"]["mtype"]["name"] == "CC");
  CHECK(j["fields"]["valid"]["value"] == 1);
  CHECK(j["fields"]["system"]["value"] == 1);
  CHECK(j["fields"]["snooped"]["value"] == 0);
  REQUIRE(j["policy"].size() == 5);
  CHECK(j["policy"][0]["mode"] == "off");
  CHECK(j["policy"][0]["flags"] == "0x0002000000000073");
  CHECK(j["policy"][1]["mode"] == "audit");
  CHECK(j["policy"][1]["flags"] == "0x0002000000000073");
  CHECK(j["policy"][1]["proposed"] == "0x0000000000000073");
  CHECK(j["policy"][2]["mode"] == "enforce");
  CHECK(j["policy"][2]["flags"] == "0x0000000000000073");
  CHECK(j["policy"][2]["rules"] == nlohmann::json::array({"cc_downgrade"}));
  CHECK(j["policy"][3]["flags"] == "0x0003000000000077");
}

TEST_CASE("decode names the MTYPE and all reserved encodings", "[cli][pte]") {
  for (std::uint64_t m = 0; m < 8; ++m) {
    const auto fields = vmfix::decode_pte(m << 48);
    bool found = false;
    for (const auto& f : fields)
      if (f.name == "mtype") {
        found = true;
        CHECK(f.value == m);
        CHECK_FALSE(f.meaning.empty());
      }
    CHECK(found);
  }
}

TEST_CASE("PTE fields take their bit ranges from the policy header's masks", "[cli][pte]") {
  auto field = [](std::uint64_t flags, const std::string& name) {
    for (const auto& f : vmfix::decode_pte(flags))
      if (f.name == name) return f;
    FAIL("no field " << name);
    return vmfix::PteField{};
  };
  const auto mtype = field(VMFIX_PTE_MTYPE_MASK, "mtype");
  CHECK(mtype.hi == 50);
  CHECK(mtype.lo == 48);
  CHECK(mtype.value == 7);
  CHECK(field(VMFIX_PTE_SNOOPED, "snooped").value == 1);
  CHECK(field(VMFIX_PTE_FRAG_MASK, "fragment").value == 31);
  CHECK(field(0x0000123456789000ULL, "address").value == 0x0000123456789000ULL);
  // Reserved: every bit no field names (57 and 63:59), packed in bit order.
  const auto reserved = field(0, "reserved");
  CHECK(reserved.hi == 63);
  CHECK(reserved.lo == 57);
  CHECK(reserved.value == 0);
  CHECK(field(1ULL << 57, "reserved").value == 1);
  CHECK(field(1ULL << 63, "reserved").value == 32);
  CHECK(field(VMFIX_PTE_NOALLOC, "reserved").value == 0);
}

TEST_CASE("the text and JSON printers show the same decode", "[cli][pte]") {
  const auto report = vmfix::pte_report(0x0003000000000077ULL);
  const auto j = vmfix::pte_report_json(report);
  const std::string text = vmfix::pte_report_text(report);
  REQUIRE(report.fields.size() == j["fields"].size());
  for (const auto& f : report.fields) {
    INFO(f.name);
    CHECK(j["fields"].contains(f.name));
    CHECK(text.find(f.meaning) != std::string::npos);
  }
  CHECK(j["policy"].size() == report.outcomes.size());
}

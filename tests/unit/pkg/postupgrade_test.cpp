// SPDX-License-Identifier: GPL-2.0 OR MIT
// The post-upgrade check's last result, as `status` reads and shows it.
#include <string>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "status/postupgrade.hpp"

using Catch::Matchers::ContainsSubstring;

TEST_CASE("a failed post-upgrade result is parsed and shown with its stage and details", "[pkg][postupgrade]") {
  const std::string text =
      "kernel 6.14.0-37-generic\ntime 2026-12-01T07:50:00Z\nverdict fail\nstage dkms\n"
      "detail DKMS has not built rdna1_vmfix for 6.14.0-37-generic: its headers are missing\n"
      "details journalctl -u rdna1-vmfix-postupgrade -b\nstages dkms=fail\n";
  const auto r = vmfix::parse_postupgrade_result(text);
  REQUIRE(r);
  CHECK(r->kernel == "6.14.0-37-generic");
  CHECK(r->verdict == "fail");
  CHECK(r->stage == "dkms");
  const std::string shown = vmfix::postupgrade_text(*r);
  CHECK_THAT(shown, ContainsSubstring("fail on 6.14.0-37-generic at 2026-12-01T07:50:00Z, stage dkms"));
  CHECK_THAT(shown, ContainsSubstring("headers are missing"));
  CHECK_THAT(shown, ContainsSubstring("details: journalctl -u rdna1-vmfix-postupgrade -b"));
  CHECK(vmfix::postupgrade_json(r)["stages"] == "dkms=fail");
}

TEST_CASE("a passed result shows no details line; partial or foreign files are no result", "[pkg][postupgrade]") {
  const auto r = vmfix::parse_postupgrade_result(
      "kernel 6.8.0-31-generic\ntime 2026-12-01T07:50:00Z\nverdict pass\nstage -\ndetail check passed\n"
      "details journalctl -u rdna1-vmfix-postupgrade -b\nstages dkms=pass signing=skip module=pass harness=pass\n");
  REQUIRE(r);
  CHECK_THAT(vmfix::postupgrade_text(*r), !ContainsSubstring("details:"));
  CHECK_FALSE(vmfix::parse_postupgrade_result(""));
  CHECK_FALSE(vmfix::parse_postupgrade_result("6.8.0-31-generic pass 0 2026-11-30T10:00:00Z\n"));  // old format
  CHECK_FALSE(vmfix::parse_postupgrade_result("kernel 6.8.0\nverdict pass\n"));                       // no time
  CHECK(vmfix::postupgrade_json(std::nullopt).is_null());
}

// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix pte VALUE: decode a gfx10 PTE and show the policy verdict per mode.

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common/cli.hpp"
#include "pte/pte.hpp"

namespace vmfix {

int cmd_pte(std::span<char*> args) {
  CLI::App app{"Decode a gfx10 GPUVM page-table entry (every field, MTYPE by name) and show what\n"
               "each rdna1_vmfix policy mode would make of it on an RDNA1 device.",
               "rdna1-vmfix pte"};
  std::string value;
  JsonFlags json_flags;
  app.add_option("VALUE", value, "PTE value: 0x-prefixed hex or decimal, e.g. 0x0002000000000073")->required();
  add_json_flags(app, json_flags);
  if (auto rc = parse_cli(app, args); rc) return *rc;

  Output out = json_flags.output();
  const auto v = parse_u64(value);
  if (!v) return out.error(v.error());
  const PteReport report = pte_report(*v);
  if (out.json())
    out.emit(pte_report_json(report));
  else
    out.text(pte_report_text(report));
  return 0;
}

}  // namespace vmfix

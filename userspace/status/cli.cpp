// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix status: GPUs (KFD topology, PCI, libdrm) and the rdna1_vmfix module's state.


#include <optional>

#include <CLI/CLI.hpp>

#include "common/cli.hpp"
#include "commands.hpp"
#include "status/postupgrade.hpp"
#include "status/signing.hpp"
#include "status/status.hpp"

namespace vmfix {

int cmd_status(std::span<char*> args) {
  CLI::App app{"Show the AMD GPUs (KFD topology: gfx target and node; PCI: ID and bound driver; libdrm:\n"
               "marketing name when the render node may be opened) and the rdna1_vmfix module: loaded,\n"
               "state, hooks, parameters, counters and recent rule hits (docs/status-abi.md, schema 1); and\n"
               "whether the installed module can load under Secure Boot (signature, MOK enrolment, lockdown).",
               "rdna1-vmfix status"};
  JsonFlags json_flags;
  std::string root;
  app.add_option("--sysfs-root", root, "read DIR/sys/... instead of /sys (tests, saved trees)");
  add_json_flags(app, json_flags);
  app.footer(
      "Exit codes:\n"
      "  0  read everything; at least one AMD GPU (RDNA1 or not; see the 'rdna1' field)\n"
      "  2  usage error (e.g. --sysfs-root is not a directory)\n"
      "  3  no AMD GPU found\n"
      "  4  the module's status files are unreadable, malformed or of an unknown schema, or stdout failed\n"
      "status only reports; `rdna1-vmfix doctor` judges.\n");
  if (auto rc = parse_cli(app, args); rc) return *rc;

  Output out = json_flags.output();
  if (auto st = check_dir_option("--sysfs-root", root); !st) return out.error(st.error());
  const RootFs fs(root);
  const SystemStatus s = collect_status(fs, fs.is_real() ? drm_marketing_name : nullptr);
  // Secure Boot / signing of the installed module: this machine only (not under --sysfs-root), and
  // only where there is an AMD GPU: without one there is nothing to install.
  std::optional<ModuleSigning> sig;
  if (root.empty() && s.any_amd()) sig = module_signing_state(host_probe());
  // The post-upgrade check's last result (DIR/var/lib/rdna1-vmfix/last-result under --sysfs-root).
  const std::optional<PostUpgradeResult> last = read_postupgrade_result(root);
  if (out.json()) {
    nlohmann::json doc = status_json(s);
    if (sig) doc["signing"] = signing_json(*sig);
    doc["postupgrade"] = postupgrade_json(last);
    out.emit(doc);
  } else {
    std::string text = status_text(s);
    if (sig) text += "Secure Boot and module signing:\n" + signing_text(*sig);
    if (last) text += "Last post-upgrade check:\n" + postupgrade_text(*last);
    out.text(text);
  }
  if (!s.module.errors.empty()) {
    // Under --json the document above already carries module.errors; say it on stderr too.
    for (const auto& e : s.module.errors) out.warn(e);
    return static_cast<int>(Exit::kRuntime);
  }
  return s.any_amd() ? 0 : static_cast<int>(Exit::kNoGpu);
}

}  // namespace vmfix

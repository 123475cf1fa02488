// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix isa FILE...: list the GPU code objects in binaries and audit them for an RDNA1 target.

#include <algorithm>

#include <CLI/CLI.hpp>

#include "common/cli.hpp"
#include "commands.hpp"
#include "isa/isa.hpp"
#include "isa/audit.hpp"

namespace vmfix {

int cmd_isa(std::span<char*> args) {
  CLI::App app{"List every AMDGPU code object inside binaries (Clang offload bundles, compressed bundles\n"
               "CCOB v1-v3 zlib/zstd, LLVM OffloadBinary, bare AMDGPU ELF, .hip_fatbin of host ELFs) and audit\n"
               "objects not built for the target with LLVM's disassembler: instructions that do not decode\n"
               "on the target, bits that mean another instruction there (v_fmac_legacy_f32 ->\n"
               "v_mac_legacy_f32), s_inst_prefetch (hangs gfx1010). Exit codes: 0 every file has code that\n"
               "runs natively on the target (or no GPU code), 1 some file lacks it, 2 unreadable, truncated\n"
               "or corrupt input, 4 runtime error.",
               "rdna1-vmfix isa"};
  std::vector<std::string> files;
  AuditOptions opt;
  JsonFlags json_flags;
  app.add_option("FILE", files,
                 "binaries to inspect (.so, executables, .hsaco/.co, .hipfb bundles); - reads standard input "
                 "(only regular files are read by name: a FIFO or device is refused)")
      ->required();
  app.add_option("--stdin-limit", opt.max_stdin,
                 "most bytes read from a pipe on standard input (FILE -), e.g. 64M, 2G; more is an error "
                 "(exit 2) [default: 1G]")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--target", opt.target, "GPU the code must run on [default: gfx1010]");
  app.add_flag("--list-only", opt.list_only, "list code objects; no disassembly, exit 0 unless input is bad");
  app.add_option("--examples", opt.max_examples, "findings shown per function [default: 8]");
  add_json_flags(app, json_flags);
  if (auto rc = parse_cli(app, args); rc) return *rc;

  Output out = json_flags.output();
  if (!is_known_processor(opt.target) || opt.target.find("generic") != std::string::npos)
    return out.error(usage_error("--target", "unknown GPU '" + opt.target + "' (e.g. gfx1010, gfx1011, gfx1012)"));
  if (std::count(files.begin(), files.end(), "-") > 1)
    return out.error(usage_error("FILE", "standard input (-) can be read only once"));

  std::vector<FileAudit> done;
  std::vector<std::pair<std::string, Error>> failed;
  int rc = 0;
  for (const auto& path : files) {
    auto fa = audit_file(path, opt);
    if (!fa) {
      failed.emplace_back(path, fa.error());
      rc = std::max(rc, static_cast<int>(fa.error().code));
      continue;
    }
    if (!opt.list_only && rc < 2) rc = std::max(rc, verdict_exit_code(fa->verdict));
    if (!out.json()) out.text(isa_text(*fa, opt));
    done.push_back(std::move(*fa));
  }
  if (out.json()) {
    if (failed.size() == files.size()) return out.error(failed.front().second);
    auto doc = isa_json(done, opt);
    for (const auto& [path, e] : failed) {
      doc["files"].push_back({{"path", path},
                              {"error", {{"message", e.message}, {"exit_code", static_cast<int>(e.code)}}}});
    }
    out.emit(doc);
    return rc;
  }
  for (const auto& [path, e] : failed) out.error(e);
  return rc;
}

}  // namespace vmfix

// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix census: CLI wiring (the logic is census.cpp, the thunk thunk_hsakmt.cpp).

#include <cstdlib>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "census/census.hpp"
#include "common/cli.hpp"
#include "commands.hpp"

namespace vmfix {

int cmd_census(std::span<char*> args) {
  CLI::App app{"Allocate each kind of GPU memory KFD offers through the ROCT thunk (libhsakmt): VRAM, system\n"
               "memory coarse- and fine-grained, uncached, extended-coherent where the thunk has it, userptr and\n"
               "SVM; map it to the RDNA1 GPU and read rdna1_vmfix's counters before and after each map (the\n"
               "module in audit mode, restored afterwards). The table says which MTYPE the driver chose per kind\n"
               "and what enforce would rewrite. Everything is unmapped and freed, also on errors and Ctrl-C.\n"
               "Needs root, /dev/kfd, an RDNA1 GPU and the module loaded. The result is kept in\n"
               "/var/lib/rdna1-vmfix/census.json for doctor and report (docs/census.md).\n"
               "Exit: 0 nothing would be rewritten, 1 enforce would rewrite some kind, 2 usage, 3 no /dev/kfd or\n"
               "no RDNA1 GPU, 4 module missing/not armed, not root, or the census is incomplete.",
               "rdna1-vmfix census"};
  JsonFlags jf;
  census::Options opt;
  std::uint32_t node = 0;
  std::uint64_t size = opt.size;
  bool no_cache = false, cached = false;
  auto* node_opt = app.add_option("--node", node, "KFD topology node of the GPU (default: the first RDNA1 node)");
  app.add_option("--size", size, "bytes per allocation kind, a multiple of 4096")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 32))
      ->capture_default_str();
  app.add_flag("--no-cache", no_cache, "do not record the result in the cache file");
  app.add_flag("--cached", cached, "print the last recorded result instead of running (no root needed)");
  add_json_flags(app, jf);
  if (auto rc = parse_cli(app, args); rc) return *rc;
  const Output out = jf.output();

  if (cached) {
    const std::string path = census::cache_path();
    auto doc = census::read_cache(path);
    if (!doc) return out.error(doc.error());
    if (!doc->has_value())
      return out.error(Error{Exit::kNoGpu, path, "census has not run on this machine ('sudo rdna1-vmfix census')"});
    if (out.json()) {
      out.emit(**doc);
    } else {
      const auto& d = **doc;
      out.text(fmt::format("census of {} at {}, {} on kernel {} (libhsakmt {}):\n{}\n", d["node"].value("gfx", "?"),
                           d["node"].value("bdf", "?"), d["run"].value("date", "?"), d["run"].value("kernel", "?"),
                           d["run"].value("libhsakmt", "?"), d.value("conclusion", "?")));
    }
    return (**doc).value("exit_code", 0);
  }
  if (size % 4096 != 0) return out.error(usage_error("--size", fmt::format("{} is not a multiple of 4096", size)));
  opt.size = size;
  if (node_opt->count() > 0) opt.node = node;
  if (const char* root = std::getenv("VMFIX_SYSFS_ROOT")) opt.sysfs_root = root;

  auto thunk = census::make_hsakmt_thunk();
  auto result = census::run_census(*thunk, opt);
  if (!result) return out.error(result.error());
  if (out.json())
    out.emit(census::census_json(*result));
  else
    out.text(census::census_text(*result));
  // Only a complete census is cached: doctor and report must never show a partial one as the answer.
  if (!no_cache && result->complete()) {
    const auto doc = census::cache_document(*result, census::current_provenance());
    if (auto st = census::write_cache(census::cache_path(), doc); !st)
      fmt::print(stderr, "{}: warning: {}: {} (the result is not cached)\n", kToolName, st.error().context,
                 st.error().message);
  }
  return result->exit_code();
}

}  // namespace vmfix

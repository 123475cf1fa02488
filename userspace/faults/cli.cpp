// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix faults [FILE|-] [--follow] [--json]: decode and classify amdgpu VM faults and the
// ROCm/HIP error lines of a log.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/cli.hpp"
#include "commands.hpp"
#include "faults/faults.hpp"
#include "common/kmsg.hpp"

namespace vmfix {

namespace {

constexpr const char* kFaultsFooter =
    "Classes: missing_code_object, isa_mismatch, vm_fault_bad_address, vm_fault_other,\n"
    "hang_or_reset, out_of_memory, pcie_atomics, unknown (verdict: also none). See docs/faults.md.\n\n"
    "Exit codes:\n"
    "  0  the log was read and holds no event\n"
    "  1  events were found (the verdict names the most likely cause)\n"
    "  2  usage error, or bad input: unreadable or empty file, binary data\n"
    "  4  the live kernel log cannot be read (not permitted), or stdout failed\n\n"
    "With --follow, each event is printed when it completes; under --json one JSON object per line\n"
    "(JSON Lines, schema 1) instead of one document. Stop with Ctrl-C.\n";

int follow(const std::string& path, const faults::Context& ctx, Output& out, bool pretty) {
  auto stream = open_follow(path);
  if (!stream) return out.error(stream.error());
  faults::Parser parser(ctx);
  bool any = false;
  int idle_ms = 0;
  auto emit = [&](std::vector<faults::Event> events) {
    for (auto& e : events) {
      any = true;
      if (out.json()) {
        nlohmann::json j = faults::event_json(e);
        j["schema"] = faults::kSchema;
        std::fputs((pretty ? j.dump(2) : j.dump()).c_str(), stdout);
        std::fputc('\n', stdout);
      } else {
        fmt::print("{}", faults::event_text(e));
      }
      std::fflush(stdout);
    }
  };
  for (;;) {
    auto lines = (*stream)->poll_lines(500);
    if (!lines) return out.error(lines.error());
    for (const auto& l : *lines) parser.feed(l);
    idle_ms = lines->empty() ? idle_ms + 500 : 0;
    // A report is complete when the next starts, or when the log has been quiet for 2 s.
    if (idle_ms >= 2000) parser.flush();
    emit(parser.take_finished());
    if ((*stream)->eof()) break;
    if (std::ferror(stdout) != 0) return static_cast<int>(Exit::kRuntime);
  }
  parser.flush();
  emit(parser.take_finished());
  return any ? 1 : 0;
}

}  // namespace

int cmd_faults(std::span<char*> args) {
  CLI::App app{"Decode amdgpu GPU VM fault reports (gfx8 to gfx12 formats, kernels 4.x to 7.x) and the\n"
               "ROCr/HIP/library error lines of a log, group them into events, classify each event and\n"
               "give a verdict for the log: the most likely cause and what to do. Without FILE, reads\n"
               "the live kernel log (/dev/kmsg, else journalctl -k).",
               "rdna1-vmfix faults"};
  std::string path;
  bool follow_flag = false;
  JsonFlags json_flags;
  std::string gfx;
  std::string override_version;
  app.add_option("FILE", path, "log file to read; '-' reads stdin; default: the live kernel log");
  app.add_flag("--follow,-f", follow_flag, "keep reading and print each event as it completes");
  app.add_option("--gfx", gfx, "the GPU's own target (e.g. gfx1010), to judge HSA_OVERRIDE_GFX_VERSION");
  app.add_option("--override", override_version,
                 "the HSA_OVERRIDE_GFX_VERSION the failing program ran with (e.g. 10.3.0)");
  add_json_flags(app, json_flags);
  app.footer(kFaultsFooter);
  if (auto rc = parse_cli(app, args); rc) return *rc;

  Output out = json_flags.output();
  faults::Context ctx{gfx, override_version, override_version.empty() ? "" : "--override"};
  if (!override_version.empty() && !faults::override_target(override_version))
    return out.error(usage_error("--override", "expected MAJOR.MINOR.STEP, e.g. 10.3.0"));

  if (follow_flag) return follow(path, ctx, out, json_flags.pretty);

  std::string text;
  std::string source = path;
  if (path.empty()) {
    auto log = read_kernel_log();
    if (!log) return out.error(log.error());
    text = std::move(log->text);
    source = log->source;
    if (text.empty()) {
      // An empty kernel ring is not bad input.
      faults::Report r;
      r.context = ctx;
      r.verdict = faults::make_verdict({}, ctx);
      if (out.json()) {
        auto j = faults::report_json(r);
        j["source"] = source;
        out.emit(j);
      } else {
        out.text(faults::report_text(r));
      }
      return 0;
    }
  } else {
    auto data = read_log_file(path);
    if (!data) return out.error(data.error());
    text = std::move(*data);
  }
  // A fixture-style metadata block supplies what the options did not.
  const faults::Context fm = faults::context_from_front_matter(text);
  if (ctx.gfx.empty()) ctx.gfx = fm.gfx;
  if (ctx.override_version.empty()) {
    ctx.override_version = fm.override_version;
    ctx.override_source = fm.override_source;
  }
  auto report = faults::parse_log(text, ctx);
  if (!report) {
    Error e = report.error();
    e.context = source == "-" ? "stdin" : source;
    return out.error(e);
  }
  if (out.json()) {
    auto j = faults::report_json(*report);
    j["source"] = source == "-" ? "stdin" : source;
    out.emit(j);
  } else {
    out.text(faults::report_text(*report));
  }
  return report->events.empty() ? 0 : 1;
}

}  // namespace vmfix

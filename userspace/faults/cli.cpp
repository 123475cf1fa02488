// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix faults [FILE|-] [--follow] [--json]: decode and classify amdgpu VM faults and the
// ROCm/HIP error lines of a log.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/cli.hpp"
#include "commands.hpp"
#include "faults/faults.hpp"
#include "common/kmsg.hpp"
#include "common/term.hpp"
#include "isa/isa.hpp"

namespace vmfix {

namespace {

constexpr const char* kFaultsFooter =
    "Classes: missing_code_object, isa_mismatch, unsupported_gpu, vm_fault_bad_address,\n"
    "graphics_fault, vm_fault_other, hang_or_reset, out_of_memory, pcie_atomics, unknown\n"
    "(verdict: also none). See docs/faults.md.\n\n"
    "Exit codes:\n"
    "  0  the log was read and holds no event\n"
    "  1  events were found (the verdict names the most likely cause)\n"
    "  2  usage error, or bad input: unreadable or empty file, binary data\n"
    "  4  the live kernel log cannot be read (not permitted), or stdout failed\n\n"
    "With --follow, each event is printed when it completes; under --json one JSON object per line\n"
    "(JSON Lines, schema 1) instead of one document. Stop with Ctrl-C.\n";

constexpr int kPollMs = 100;

int follow(const std::string& path, const faults::Context& ctx, Output& out, bool pretty) {
  auto stream = open_follow(path);
  if (!stream) return out.error(stream.error());
  fmt::print(stderr, "{}: waiting for GPU faults in {} (Ctrl-C to stop)\n", kToolName,
             path.empty() ? std::string("the kernel log") : path == "-" ? std::string("stdin") : path);
  std::fflush(stderr);
  faults::Parser parser(ctx);
  bool any = false;
  int idle_ms = 0;
  auto emit = [&](const std::vector<faults::Event>& events) {
    for (auto& e : events) {
      any = true;
      if (out.json()) {
        nlohmann::json j = faults::event_json(e);
        j["schema"] = faults::kSchema;
        std::fputs((pretty ? j.dump(2) : j.dump()).c_str(), stdout);
        std::fputc('\n', stdout);
      } else {
        std::fputs(term::wrap_text(faults::event_text(e), term::out_width()).c_str(), stdout);
      }
      std::fflush(stdout);
    }
  };
  for (;;) {
    auto lines = (*stream)->poll_lines(kPollMs);
    if (!lines) return out.error(lines.error());
    for (const auto& l : *lines) parser.feed(l);
    idle_ms = lines->empty() ? idle_ms + kPollMs : 0;
    // A report is complete when the next starts, or when the log has been quiet for 300 ms: the
    // kernel writes one fault report in a burst, so a fault shows within half a second.
    if (idle_ms >= 300) parser.flush();
    emit(parser.take_finished());
    if ((*stream)->eof()) break;
    if (std::ferror(stdout) != 0) return static_cast<int>(Exit::kRuntime);
  }
  parser.flush();
  emit(parser.take_finished());
  return any ? 1 : 0;
}

struct Analyzed {
  std::string source;
  faults::Report report;
};

// One log (a file, '-' for stdin, "" for the live kernel log) -> its report.
Result<Analyzed> analyze(const std::string& path, faults::Context ctx) {
  std::string text;
  std::string source = path == "-" ? "stdin" : path;
  if (path.empty()) {
    auto log = read_kernel_log();
    if (!log) return log.error();
    text = std::move(log->text);
    source = log->source;
    if (text.empty()) {  // an empty kernel ring is not bad input
      faults::Report r;
      r.context = ctx;
      r.verdict = faults::make_verdict({}, ctx);
      return Analyzed{source, std::move(r)};
    }
  } else {
    auto data = read_log_file(path);
    if (!data) return data.error();
    text = std::move(*data);
  }
  // A fixture-style metadata block supplies what the options did not.
  const faults::Context fm = faults::context_from_front_matter(text);
  if (ctx.gfx.empty()) ctx.gfx = fm.gfx;
  if (ctx.override_version.empty()) {
    ctx.override_version = fm.override_version;
    ctx.override_source = fm.override_source;
  }
  if (ctx.rocm_version.empty()) {
    ctx.rocm_version = fm.rocm_version;
    ctx.rocm_version_source = fm.rocm_version_source;
  }
  auto report = faults::parse_log(text, ctx);
  if (!report) {
    Error e = report.error();
    e.context = source;
    return e;
  }
  return Analyzed{source, std::move(*report)};
}

}  // namespace

int cmd_faults(std::span<char*> args) {
  CLI::App app{"Decode amdgpu GPU VM fault reports (gfx8 to gfx12 formats, kernels 4.x to 7.x) and the\n"
               "ROCr/HIP/library error lines of a log, group them into events, classify each event and\n"
               "give a verdict for the log: the most likely cause and what to do. Without FILE, reads\n"
               "the live kernel log (/dev/kmsg, else journalctl -k).",
               "rdna1-vmfix faults"};
  std::vector<std::string> paths;
  bool follow_flag = false;
  JsonFlags json_flags;
  std::string gfx;
  std::string override_version;
  app.add_option("FILE", paths, "log files to read (each reported on its own); '-' reads stdin; default: the live "
                                "kernel log");
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
  // The same check as `isa --target`: a GPU LLVM knows, not a generic target.
  if (!gfx.empty() && (!is_known_processor(gfx) || gfx.find("generic") != std::string::npos))
    return out.error(usage_error("--gfx", "unknown GPU '" + gfx + "' (e.g. gfx1010, gfx1011, gfx1012)"));

  if (follow_flag) {
    if (paths.size() > 1) return out.error(usage_error("--follow", "follows one log; give at most one FILE"));
    return follow(paths.empty() ? "" : paths[0], ctx, out, json_flags.pretty);
  }

  if (paths.size() <= 1) {
    auto one = analyze(paths.empty() ? "" : paths[0], ctx);
    if (!one) return out.error(one.error());
    if (out.json()) {
      auto j = faults::report_json(one->report);
      j["source"] = one->source;
      out.emit(j);
    } else {
      out.text(faults::report_text(one->report));
    }
    return one->report.events.empty() ? 0 : 1;
  }
  // Several files: every file is read before anything is printed (bad input changes nothing).
  std::vector<Analyzed> all;
  for (const auto& p : paths) {
    auto one = analyze(p, ctx);
    if (!one) return out.error(one.error());
    all.push_back(std::move(*one));
  }
  bool any = false;
  nlohmann::json files = nlohmann::json::array();
  std::string text;
  for (const auto& a : all) {
    any = any || !a.report.events.empty();
    auto j = faults::report_json(a.report);
    j["source"] = a.source;
    files.push_back(std::move(j));
    text += fmt::format("{}== {} ==\n{}", text.empty() ? "" : "\n", a.source, faults::report_text(a.report));
  }
  if (out.json())
    out.emit({{"tool", kToolName}, {"version", VMFIX_VERSION}, {"schema", faults::kSchema}, {"files", files}});
  else
    out.text(text);
  return any ? 1 : 0;
}

}  // namespace vmfix

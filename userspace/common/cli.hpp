// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// CLI11 glue shared by all subcommands: parse, map --help to exit 0 and errors to exit 2.

#include <sys/stat.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/output.hpp"
#include "common/term.hpp"

namespace vmfix {

// Returns an exit code when the command must stop now (help printed or a usage error).
inline std::optional<int> parse_cli(CLI::App& app, std::span<char*> args) {
  std::vector<std::string> rest;
  for (std::size_t i = args.size(); i > 1; --i) rest.emplace_back(args[i - 1]);
  try {
    app.parse(rest);
  } catch (const CLI::CallForHelp&) {
    // The description is prose: reflowed, then wrapped to the terminal like the rest.
    const std::string description = app.get_description();
    app.description("");
    std::string help = (description.empty() ? "" : term::reflow(description) + "\n") + app.help();
    app.description(description);
    std::fputs(term::wrap_text(help, term::out_width()).c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    // Under --json (or --pretty) a usage error is a JSON error document too, as the man page says.
    bool json = false;
    for (std::size_t i = 1; i < args.size(); ++i) {  // CLI11 consumed `rest`: look at the arguments
      const std::string_view a = args[i];
      json = json || a == "--json" || a == "--pretty" || a == "--format=json";
    }
    const Output out(json, false);
    return out.error(usage_error(app.get_name(), e.what()));
  }
  return std::nullopt;
}

// A --sysfs-root style option must name an existing directory (empty = not given).
inline Status check_dir_option(const std::string& option, const std::string& dir) {
  struct stat st {};
  if (dir.empty() || (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) return ok_status();
  return usage_error(option, dir + " is not a directory");
}

// The --json/--pretty pair of every data command; --pretty implies --json.
struct JsonFlags {
  bool json = false;
  bool pretty = false;
  [[nodiscard]] Output output() const { return Output(json || pretty, pretty); }
};

inline void add_json_flags(CLI::App& app, JsonFlags& flags) {
  app.add_flag("--json", flags.json, "print one JSON document (schema 1)");
  app.add_flag("--pretty", flags.pretty, "indent the JSON document");
}

}  // namespace vmfix

// SPDX-License-Identifier: GPL-2.0 OR MIT
// census: the cached last result that doctor and report include (docs/census.md).

#include <sys/utsname.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "census/census.hpp"

#ifndef VMFIX_HSAKMT_VERSION
#define VMFIX_HSAKMT_VERSION ""
#endif

namespace vmfix::census {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  if (!f) return "";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string first_line(const std::string& s) {
  std::string l = s.substr(0, s.find('\n'));
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();
  return l;
}

}  // namespace

std::string dpkg_version(const std::string& status_text, const std::string& package) {
  std::istringstream in(status_text);
  std::string line;
  bool in_pkg = false;
  while (std::getline(in, line)) {
    if (line.empty()) in_pkg = false;
    else if (line.starts_with("Package: ")) in_pkg = line.substr(9) == package;
    else if (in_pkg && line.starts_with("Version: ")) return line.substr(9);
  }
  return "";
}

Provenance current_provenance(const std::string& root) {
  Provenance p;
  p.date = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
  struct utsname u {};
  if (uname(&u) == 0) p.kernel = u.release;
  p.libhsakmt = dpkg_version(slurp(root + "/var/lib/dpkg/status"), "libhsakmt1");
  if (p.libhsakmt.empty()) p.libhsakmt = VMFIX_HSAKMT_VERSION;
  p.rocm = first_line(slurp(root + "/opt/rocm/.info/version"));
  return p;
}

std::string cache_path() {
  const char* dir = std::getenv("VMFIX_STATE_DIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/var/lib/rdna1-vmfix") + "/census.json";
}

nlohmann::json cache_document(const CensusResult& r, const Provenance& p) {
  nlohmann::json doc = census_json(r);
  doc["run"] = {{"date", p.date}, {"kernel", p.kernel}, {"libhsakmt", p.libhsakmt}, {"rocm", p.rocm}};
  return doc;
}

Status write_cache(const std::string& path, const nlohmann::json& doc) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return runtime_error(path, ec.message());
  // Write a sibling and rename: a reader never sees half a document.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << doc.dump(2) << "\n";
    if (!f.flush()) return runtime_error(tmp, std::strerror(errno));
  }
  fs::rename(tmp, path, ec);
  if (ec) return runtime_error(path, ec.message());
  return ok_status();
}

Result<std::optional<nlohmann::json>> read_cache(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    if (errno == ENOENT) return std::optional<nlohmann::json>{};
    return runtime_error(path, std::strerror(errno));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return runtime_error(path, "not a JSON document");
  if (doc.value("command", "") != "census" || !doc.contains("schema") || !doc["schema"].is_number_integer())
    return runtime_error(path, "not a census result");
  if (doc["schema"].get<int>() != kSchema)
    return runtime_error(path, fmt::format("census schema {} (this tool reads {})", doc["schema"].get<int>(), kSchema));
  return std::optional<nlohmann::json>{std::move(doc)};
}

std::string cache_summary(const nlohmann::json& doc, const std::string& running_kernel) {
  const auto str = [](const nlohmann::json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string("?");
  };
  const nlohmann::json node = doc.value("node", nlohmann::json::object());
  const nlohmann::json run = doc.value("run", nlohmann::json::object());
  std::string s = fmt::format("census of {} at {} on {}, kernel {}: {}", str(node, "gfx"), str(node, "bdf"),
                              str(run, "date"), str(run, "kernel"), str(doc, "conclusion"));
  if (!running_kernel.empty() && str(run, "kernel") != running_kernel)
    s += fmt::format(" (stale: run on kernel {}, this is {}; run 'sudo rdna1-vmfix census' again)", str(run, "kernel"),
                     running_kernel);
  return s;
}

}  // namespace vmfix::census

// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "report/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace vmfix::report {

namespace {

constexpr std::array kKeepNames = {"root", "localhost", "localhost.localdomain", "nobody", "user", "debian", "ubuntu",
                                   "none", "unknown", "default", "amdgpu", "render", "video"};

// One row per kind of secret: its name in the report and the placeholder that replaces it.
struct SecretRow {
  Secret kind;
  const char* name;
  const char* placeholder;
};
constexpr std::array kSecrets = {SecretRow{Secret::kHomePath, "home_paths", "<home>"},
                                 SecretRow{Secret::kUserName, "user_names", "<user>"},
                                 SecretRow{Secret::kHostName, "host_names", "<host>"},
                                 SecretRow{Secret::kSerial, "serial_numbers", "<serial>"}};

const SecretRow& secret_row(Secret s) {
  for (const auto& r : kSecrets)
    if (r.kind == s) return r;
  return kSecrets.back();
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-'; }

}  // namespace

const char* secret_name(Secret s) { return secret_row(s).name; }

const char* secret_placeholder(Secret s) { return secret_row(s).placeholder; }

void Redactor::add(Secret kind, std::string value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())) != 0) value.pop_back();
  if (value.size() < 2) return;
  if (kind == Secret::kHomePath && (value == "/" || value == "/root" || value.find('/', 1) == std::string::npos)) return;
  if (kind != Secret::kHomePath && kind != Secret::kSerial &&
      std::find(kKeepNames.begin(), kKeepNames.end(), value) != kKeepNames.end())
    return;
  if (kind == Secret::kSerial && (value == "0" || value.find_first_not_of("0x") == std::string::npos)) return;
  for (const auto& e : secrets_)
    if (e.value == value) return;
  secrets_.push_back({kind, std::move(value)});
  std::stable_sort(secrets_.begin(), secrets_.end(), [](const Entry& a, const Entry& b) {
    if (a.kind == Secret::kHomePath && b.kind != Secret::kHomePath) return true;
    if (a.kind != Secret::kHomePath && b.kind == Secret::kHomePath) return false;
    return a.value.size() > b.value.size();
  });
}

std::string Redactor::apply(std::string_view in) {
  std::string s(in);
  for (const auto& e : secrets_) {
    const bool whole_word = e.kind != Secret::kHomePath;
    std::string out;
    std::size_t pos = 0;
    for (;;) {
      const auto hit = s.find(e.value, pos);
      if (hit == std::string::npos) break;
      const std::size_t end = hit + e.value.size();
      const bool ok_left = !whole_word || hit == 0 || !word_char(s[hit - 1]);
      // A home path must end at a path boundary: /home/al is not /home/alice.
      const bool ok_right = whole_word ? (end >= s.size() || !word_char(s[end]))
                                       : (end >= s.size() || s[end] == '/' || !word_char(s[end]));
      out.append(s, pos, hit - pos);
      if (ok_left && ok_right) {
        out += secret_placeholder(e.kind);
        ++counts_[e.kind];
      } else {
        out.append(e.value);
      }
      pos = end;
    }
    out.append(s, pos, std::string::npos);
    s = std::move(out);
  }
  return s;
}

void Redactor::apply(nlohmann::json& doc) {
  if (doc.is_string()) {
    doc = apply(doc.get<std::string>());
  } else if (doc.is_object() || doc.is_array()) {
    for (auto& v : doc) apply(v);
  }
}

nlohmann::json Redactor::summary() const {
  nlohmann::json j = nlohmann::json::object();
  for (const Secret s : {Secret::kUserName, Secret::kHomePath, Secret::kHostName, Secret::kSerial}) {
    const auto it = counts_.find(s);
    j[secret_name(s)] = it == counts_.end() ? 0 : it->second;
  }
  return j;
}

}  // namespace vmfix::report

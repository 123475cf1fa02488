// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "report/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace vmfix::report {

namespace {

constexpr std::array kKeepNames = {"root", "localhost", "localhost.localdomain", "nobody", "user", "debian", "ubuntu",
                                   "none", "unknown", "default", "amdgpu", "render", "video"};

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-'; }

}  // namespace

const char* secret_name(Secret s) {
  switch (s) {
    case Secret::kHomePath: return "home_paths";
    case Secret::kUserName: return "user_names";
    case Secret::kHostName: return "host_names";
    case Secret::kSerial: return "serial_numbers";
  }
  return "serial_numbers";
}

const char* secret_placeholder(Secret s) {
  switch (s) {
    case Secret::kHomePath: return "<home>";
    case Secret::kUserName: return "<user>";
    case Secret::kHostName: return "<host>";
    case Secret::kSerial: return "<serial>";
  }
  return "<serial>";
}

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

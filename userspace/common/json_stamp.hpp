// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Every JSON document the tool prints says which tool and version wrote it and in which schema:
// {"schema": N, "tool": {"name": "rdna1-vmfix", "version": "0.1.0", ...}, ...}. Output::emit stamps
// each document it prints.

#include <nlohmann/json.hpp>

#include "common/output.hpp"

namespace vmfix {

// Adds "schema" (1 unless the document has its own) and "tool".{name,version}, keeping any other
// "tool" fields (report's commit). Non-object documents (JSON Lines records) are left alone.
inline void stamp_document(nlohmann::json& doc, const char* version = VMFIX_VERSION) {
  if (!doc.is_object()) return;
  if (!doc.contains("schema")) doc["schema"] = 1;
  if (!doc.contains("tool") || !doc["tool"].is_object()) doc["tool"] = nlohmann::json::object();
  doc["tool"]["name"] = kToolName;
  doc["tool"]["version"] = version;
}

}  // namespace vmfix

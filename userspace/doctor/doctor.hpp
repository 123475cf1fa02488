// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// doctor: one verdict for this machine from the GPU (KFD/PCI), kernel and module state, the ROCm
// environment variables, the installed ROCm/PyTorch libraries and their code-object targets, and
// recent faults. Every input is injectable so tests run on fake trees and logs.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults/faults.hpp"
#include "status/signing.hpp"
#include "status/status.hpp"

namespace vmfix::doctor {

inline constexpr int kSchema = 1;

// Which gfx targets a library's code objects contain. `known` is false when the build has no
// code-object reader (the isa library) or the file could not be read.
struct Targets {
  bool known = false;
  std::vector<std::string> targets;  // target ids, e.g. "gfx1010", "gfx1030:xnack-", deduplicated
  std::string source;                // "code objects", "file names"
  std::string error;
};
using TargetScanner = std::function<Targets(const std::string& path)>;
// Uses vmfix::list_code_objects() (isa/isa.hpp) when this build has it, else reports
// the targets as unknown.
TargetScanner default_scanner();
[[nodiscard]] bool have_code_object_reader();

struct Library {
  std::string path;
  std::string name;  // rocblas, miopen, torch_hip, amdhip64, tensile_library, ...
  Targets targets;
};

// Relevant ROCm environment variables from envp-style "NAME=value" strings.
std::map<std::string, std::string> relevant_env(char** envp);
// Default search directories: /opt/rocm*/lib, the multiarch lib dirs, python site-packages torch/lib.
std::vector<std::string> default_lib_dirs();
// Finds ROCm/PyTorch/MIOpen/rocBLAS libraries and Tensile code-object directories under dirs.
std::vector<Library> find_libraries(const std::vector<std::string>& dirs, const TargetScanner& scan,
                                    std::size_t max_files = 64);

struct Input {
  SystemStatus status;
  std::string kernel_release;
  std::map<std::string, std::string> env;
  std::vector<Library> libraries;
  bool libraries_searched = false;
  std::optional<faults::Report> faults;  // nullopt: no log could be read
  std::string log_source;                // "/dev/kmsg", FILE, or why none was read
  std::optional<ModuleSigning> signing;  // Secure Boot/signing of the module; nullopt: not examined
};

struct Finding {
  std::string cls;  // a faults class, or mtype_cc_seen, module_signing, module_error, no_rdna1_gpu, healthy
  std::string summary;
  std::string advice;
  std::vector<std::string> evidence;
};

struct Report {
  Input input;
  Finding verdict;
  std::vector<std::string> notes;  // secondary observations
  int exit_code = 0;               // 0 healthy, 1 problem, 3 no RDNA1 GPU, 4 cannot inspect
};

Report diagnose(Input in);
nlohmann::json report_json(const Report& r);
std::string report_text(const Report& r);

}  // namespace vmfix::doctor

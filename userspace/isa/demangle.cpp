// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "isa/demangle.hpp"

#include <llvm/Demangle/Demangle.h>

namespace vmfix::isa {

std::string demangle(std::string_view name) {
  if (name.empty()) return "";
  return llvm::demangle(std::string(name));
}

}  // namespace vmfix::isa

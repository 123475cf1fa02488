// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// C++ symbol names as a reader wants them in `isa` text output (LLVM's demangler, the one
// llvm-objdump --demangle uses). JSON keeps the mangled name and adds the demangled one.

#include <string>
#include <string_view>

namespace vmfix::isa {

// "_Z11conv_directPKfS0_Pfiiii" -> "conv_direct(float const*, float const*, float*, int, int, int, int)";
// kernel descriptor symbols keep their suffix ("_Z3foov.kd" -> "foo() (.kd)"); a name that is not
// mangled comes back unchanged.
std::string demangle(std::string_view name);

}  // namespace vmfix::isa

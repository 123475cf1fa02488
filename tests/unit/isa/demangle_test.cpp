// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <catch2/catch_test_macros.hpp>

#include "isa/demangle.hpp"

using vmfix::isa::demangle;

TEST_CASE("isa: C++ kernel names are demangled, others left alone", "[isa][demangle]") {
  CHECK(demangle("_Z11conv_directPKfS0_Pfiiii") == "conv_direct(float const*, float const*, float*, int, int, int, int)");
  CHECK(demangle("_ZN5torch6kernelEv") == "torch::kernel()");
  CHECK(demangle("_Z3foov.kd") == "foo() (.kd)");
  CHECK(demangle("__hip_fatbin") == "__hip_fatbin");
  CHECK(demangle("conv_direct") == "conv_direct");
  CHECK(demangle("") == "");
}

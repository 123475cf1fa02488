// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstring>
#include <set>

#include "check/workers/cases.hpp"

using namespace vmfix::harness;

TEST_CASE("every profile case id is unique and parses back to the same case", "[harness][cases]") {
  for (const char* profile : {"quick", "full"}) {
    INFO(profile);
    const auto cases = profile_cases(profile);
    REQUIRE(cases);
    std::set<std::string> ids;
    for (const auto& c : *cases) {
      CHECK(ids.insert(c.id).second);
      const auto back = parse_case_id(c.id);
      REQUIRE(back);
      CHECK(back->algo == c.algo);
      CHECK(back->dtype == c.dtype);
      CHECK(back->shape == c.shape);
      CHECK(back->mem == c.mem);
      CHECK_FALSE(back->hidden());
    }
  }
  CHECK_FALSE(profile_cases("medium"));
}

TEST_CASE("quick covers every kernel, dtype and memory kind; full is a superset", "[harness][cases]") {
  const auto quick = *profile_cases("quick");
  const auto full = *profile_cases("full");
  std::set<std::string> kinds, algos, dtypes, full_ids;
  for (const auto& c : quick) {
    kinds.insert(mem_name(c.mem));
    algos.insert(algo_name(c.algo));
    dtypes.insert(dtype_name(c.dtype));
  }
  CHECK(kinds.size() == static_cast<std::size_t>(kMemCount));
  CHECK(algos == std::set<std::string>{"direct", "igemm", "gemm1x1", "depthwise", "dot2"});
  CHECK(dtypes == std::set<std::string>{"fp32", "fp16"});
  for (const auto& c : full) full_ids.insert(c.id);
  for (const auto& c : quick) CHECK(full_ids.count(c.id) == 1);
  CHECK(full.size() > quick.size());
  std::set<std::string> nets;
  for (const auto& c : full) nets.insert(std::string(shapes()[static_cast<std::size_t>(c.shape)].name).substr(0, 4));
  CHECK(nets == std::set<std::string>{"mbv2", "r50_", "unet"});
}

TEST_CASE("malformed or inapplicable case ids are rejected", "[harness][cases]") {
  for (const char* bad : {"", "direct", "direct.fp32.mbv2_conv1", "direct.fp64.mbv2_conv1.dev_coarse",
                          "direct.fp32.nope.dev_coarse", "direct.fp32.mbv2_conv1.vram", "dot2.fp32.mbv2_conv1.dev_coarse",
                          "depthwise.fp32.mbv2_conv1.dev_coarse", "gemm1x1.fp32.mbv2_conv1.dev_coarse",
                          "direct.fp32.mbv2_conv1.dev_coarse.x", "planted.nope"}) {
    INFO(bad);
    CHECK_FALSE(parse_case_id(bad));
  }
  for (const auto& p : planted_cases()) {
    const auto c = parse_case_id(p.id);
    REQUIRE(c);
    CHECK(c->hidden());
    CHECK(c->plant == p.plant);
  }
}

TEST_CASE("fp16 conversion round-trips every half value and rounds to nearest even", "[harness][fp16]") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) {
      CHECK((f32_to_f16(f) & 0x7c00u) == 0x7c00u);
      continue;
    }
    REQUIRE(f32_to_f16(f) == h);
  }
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0xc000) == -2.0f);
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(f32_to_f16(65520.0f) == 0x7c00);                  // rounds to infinity
  CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie to even (down)
  CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // tie to even (up)
}

TEST_CASE("the reference matches a hand-computed 1x1 and 3x3 convolution point", "[harness][reference]") {
  const auto c = *parse_case_id("direct.fp32.unet_out_1x1.dev_coarse");
  const Shape& s = shapes()[static_cast<std::size_t>(c.shape)];
  std::vector<float> in(s.in_elems()), w(s.w_elems());
  fill_input(c, in.data());
  fill_weights(c, w.data());
  const auto ref = reference(c);
  REQUIRE(ref.size() == s.out_elems());
  // out[k=1][y=5][x=7] = sum_c w[1][c] * in[c][5][7]
  double want = 0;
  for (int ch = 0; ch < s.c; ++ch)
    want += static_cast<double>(w[static_cast<std::size_t>(s.c) + static_cast<std::size_t>(ch)]) * in[(static_cast<std::size_t>(ch) * s.h + 5) * s.w + 7];
  CHECK(std::fabs(ref[(1 * static_cast<std::size_t>(s.h) + 5) * s.w + 7] - want) < 1e-12);

  const auto d = *parse_case_id("direct.fp32.mbv2_conv1.dev_coarse");  // 3x3 stride 2 pad 1
  const Shape& t = shapes()[static_cast<std::size_t>(d.shape)];
  std::vector<float> in2(t.in_elems()), w2(t.w_elems());
  fill_input(d, in2.data());
  fill_weights(d, w2.data());
  const auto ref2 = reference(d);
  // out[k=0][0][0]: the padded corner only sees in[c][0..1][0..1] through w[0][c][1..2][1..2].
  double corner = 0;
  for (int ch = 0; ch < t.c; ++ch)
    for (int r = 1; r < 3; ++r)
      for (int q = 1; q < 3; ++q)
        corner += static_cast<double>(w2[((static_cast<std::size_t>(ch)) * 3 + r) * 3 + q]) *
                  in2[(static_cast<std::size_t>(ch) * t.h + (r - 1)) * t.w + (q - 1)];
  CHECK(std::fabs(ref2[0] - corner) < 1e-12);
}

TEST_CASE("compare passes within tolerance and fails outside it, on NaN, per dtype", "[harness][reference]") {
  const auto c = *parse_case_id("direct.fp32.unet_out_1x1.dev_coarse");
  const auto ref = reference(c);
  std::vector<float> out(ref.size());
  for (std::size_t i = 0; i < ref.size(); ++i) out[i] = static_cast<float>(ref[i]);
  CHECK(compare(c, out.data(), ref).pass());
  out[3] += 0.01f;
  auto r = compare(c, out.data(), ref);
  CHECK_FALSE(r.pass());
  CHECK(r.bad == 1);
  CHECK(r.worst_index == 3);
  CHECK(std::fabs(r.max_abs_err - 0.01) < 1e-6);
  out[3] = NAN;
  CHECK_FALSE(compare(c, out.data(), ref).pass());

  const auto h = *parse_case_id("direct.fp16.unet_out_1x1.dev_coarse");
  const auto href = reference(h);
  std::vector<std::uint16_t> hout(href.size());
  for (std::size_t i = 0; i < href.size(); ++i) hout[i] = f32_to_f16(static_cast<float>(href[i]));
  CHECK(compare(h, hout.data(), href).pass());  // one fp16 rounding is inside the fp16 tolerance
  CHECK(tolerance(DType::kFp16).rtol > tolerance(DType::kFp32).rtol);
}

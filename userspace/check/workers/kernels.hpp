// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// The convolution kernels, written once (HIP dialect, see portability.hpp) and compiled for every
// backend: direct, implicit GEMM with LDS tiling, 1x1 as a tiled GEMM, depthwise, and a direct
// fp16 kernel whose inner product uses the dot2 instruction where the target has it (gfx1030; the
// gfx101x and the other backends build the fp32 fallback). fp16 kernels store fp16 and accumulate
// in fp32. Layouts: input CHW, weights KCRS (depthwise C1RS), output KHW; batch 1.

#include "portability.hpp"

namespace vmfix::harness {

inline constexpr int kPlantNone = 0;
inline constexpr int kPlantWrong = 1;
inline constexpr int kPlantHang = 2;
inline constexpr int kPlantGpuFault = 3;

template <class T>
struct ConvArgs {
  const T* in;
  const T* w;
  T* out;
  int c, h, w_, k, r, s, stride, pad, oh, ow;
  int plant;               // planted-fault cases only (kPlant*)
  float* bad;              // kPlantGpuFault: an address no mapping covers
  const volatile int* spin;  // kPlantHang: stays 0 for ever
};

// The per-output-element kernels (direct, depthwise, dot2): one thread per output element on a 1-D
// grid of 256-thread blocks; f(i, k, y, x) computes element i = (k * oh + y) * ow + x.
template <class B, class T, class F>
VMFIX_DEVICE inline void for_each_output(B& b, const ConvArgs<T>& a, F&& f) {
  b.threads([&](const Thread& t) {
    const long i = static_cast<long>(b.block_idx().x) * b.block_dim().x + t.x;
    if (i >= static_cast<long>(a.k) * a.oh * a.ow) return;
    f(i, static_cast<int>(i / (static_cast<long>(a.ow) * a.oh)), static_cast<int>((i / a.ow) % a.oh),
      static_cast<int>(i % a.ow));
  });
}

// The filter taps of output (y, x) that fall inside the input: f(r, q, iy, ix).
template <class T, class F>
VMFIX_DEVICE inline void for_each_tap(const ConvArgs<T>& a, int y, int x, F&& f) {
  for (int r = 0; r < a.r; ++r) {
    const int iy = y * a.stride - a.pad + r;
    if (iy < 0 || iy >= a.h) continue;
    for (int q = 0; q < a.s; ++q) {
      const int ix = x * a.stride - a.pad + q;
      if (ix >= 0 && ix < a.w_) f(r, q, iy, ix);
    }
  }
}

// direct: every output element straight from the definition.
template <class B, class T>
VMFIX_DEVICE void conv_direct_body(B& b, const ConvArgs<T>& a) {
  for_each_output(b, a, [&](long i, int k, int y, int x) {
    float acc = 0.f;
    for (int c = 0; c < a.c; ++c)
      for_each_tap(a, y, x, [&](int r, int q, int iy, int ix) {
        acc += to_f32(a.in[(static_cast<long>(c) * a.h + iy) * a.w_ + ix]) *
               to_f32(a.w[((static_cast<long>(k) * a.c + c) * a.r + r) * a.s + q]);
      });
    if (a.plant == kPlantWrong && i == 0) acc += 0.5f;
    if (a.plant == kPlantHang)
      while (*a.spin == 0) {
      }
    if (a.plant == kPlantGpuFault && i == 0) *reinterpret_cast<volatile float*>(a.bad) = acc;
    a.out[i] = from_f32<T>(acc);
  });
}
VMFIX_KERNEL(conv_direct, conv_direct_body)

// Implicit GEMM: out[M=K][N=OH*OW] = W[M][KK=C*R*S] x im2col(in)[KK][N], never materialised.
// 64x64 output tile per 16x16-thread block, 4x4 per thread, K-steps of 16 staged in LDS.
inline constexpr int kTile = 64, kTileK = 16;

template <class B, class T>
VMFIX_DEVICE void conv_igemm_body(B& b, const ConvArgs<T>& a) {
  VMFIX_SHARED float as[kTileK][kTile];
  VMFIX_SHARED float bs[kTileK][kTile];
  typename B::template PerThread<float, 16> acc;
  const int m_total = a.k, n_total = a.oh * a.ow, kk_total = a.c * a.r * a.s;
  const int m0 = static_cast<int>(b.block_idx().y) * kTile, n0 = static_cast<int>(b.block_idx().x) * kTile;
  b.threads([&](const Thread& t) {
    for (int i = 0; i < 16; ++i) acc(t)[i] = 0.f;
  });
  for (int k0 = 0; k0 < kk_total; k0 += kTileK) {
    b.threads([&](const Thread& t) {
      for (int l = 0; l < 4; ++l) {
        const int e = static_cast<int>(t.linear) + 256 * l;
        // A tile: weights, kk fastest (contiguous in KCRS).
        const int am = e / kTileK, ak = e % kTileK;
        const int gm = m0 + am, gk = k0 + ak;
        as[ak][am] = (gm < m_total && gk < kk_total) ? to_f32(a.w[static_cast<long>(gm) * kk_total + gk]) : 0.f;
        // B tile: im2col of the input, n fastest (contiguous along a row of the output).
        const int bk = e / kTile, bn = e % kTile;
        const int gn = n0 + bn, gkk = k0 + bk;
        float v = 0.f;
        if (gn < n_total && gkk < kk_total) {
          const int c = gkk / (a.r * a.s), rs = gkk % (a.r * a.s);
          const int iy = (gn / a.ow) * a.stride - a.pad + rs / a.s;
          const int ix = (gn % a.ow) * a.stride - a.pad + rs % a.s;
          if (iy >= 0 && iy < a.h && ix >= 0 && ix < a.w_) v = to_f32(a.in[(static_cast<long>(c) * a.h + iy) * a.w_ + ix]);
        }
        bs[bk][bn] = v;
      }
    });
    b.sync();
    b.threads([&](const Thread& t) {
      float* r = acc(t);
      for (int kk = 0; kk < kTileK; ++kk) {
        float av[4], bv[4];
        for (int i = 0; i < 4; ++i) av[i] = as[kk][t.y + 16 * i];
        for (int j = 0; j < 4; ++j) bv[j] = bs[kk][t.x + 16 * j];
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) r[i * 4 + j] += av[i] * bv[j];
      }
    });
    b.sync();
  }
  b.threads([&](const Thread& t) {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const int m = m0 + static_cast<int>(t.y) + 16 * i, n = n0 + static_cast<int>(t.x) + 16 * j;
        if (m < m_total && n < n_total) a.out[static_cast<long>(m) * n_total + n] = from_f32<T>(acc(t)[i * 4 + j]);
      }
  });
}
VMFIX_KERNEL(conv_igemm, conv_igemm_body)

// 1x1 convolution (stride 1, no padding) as a plain GEMM out[K][HW] = W[K][C] x in[C][HW]:
// classic 16x16 LDS tiles, one output per thread.
inline constexpr int kGemmTile = 16;

template <class B, class T>
VMFIX_DEVICE void conv_gemm1x1_body(B& b, const ConvArgs<T>& a) {
  VMFIX_SHARED float ws[kGemmTile][kGemmTile + 1];
  VMFIX_SHARED float xs[kGemmTile][kGemmTile + 1];
  typename B::template PerThread<float, 1> acc;
  const int n_total = a.h * a.w_;
  const int m0 = static_cast<int>(b.block_idx().y) * kGemmTile, n0 = static_cast<int>(b.block_idx().x) * kGemmTile;
  b.threads([&](const Thread& t) { acc(t)[0] = 0.f; });
  for (int c0 = 0; c0 < a.c; c0 += kGemmTile) {
    b.threads([&](const Thread& t) {
      const int m = m0 + static_cast<int>(t.y), cw = c0 + static_cast<int>(t.x);
      ws[t.y][t.x] = (m < a.k && cw < a.c) ? to_f32(a.w[static_cast<long>(m) * a.c + cw]) : 0.f;
      const int ci = c0 + static_cast<int>(t.y), n = n0 + static_cast<int>(t.x);
      xs[t.y][t.x] = (ci < a.c && n < n_total) ? to_f32(a.in[static_cast<long>(ci) * n_total + n]) : 0.f;
    });
    b.sync();
    b.threads([&](const Thread& t) {
      float s = acc(t)[0];
      for (int i = 0; i < kGemmTile; ++i) s += ws[t.y][i] * xs[i][t.x];
      acc(t)[0] = s;
    });
    b.sync();
  }
  b.threads([&](const Thread& t) {
    const int m = m0 + static_cast<int>(t.y), n = n0 + static_cast<int>(t.x);
    if (m < a.k && n < n_total) a.out[static_cast<long>(m) * n_total + n] = from_f32<T>(acc(t)[0]);
  });
}
VMFIX_KERNEL(conv_gemm1x1, conv_gemm1x1_body)

// Depthwise: one input channel per output channel.
template <class B, class T>
VMFIX_DEVICE void conv_depthwise_body(B& b, const ConvArgs<T>& a) {
  for_each_output(b, a, [&](long i, int k, int y, int x) {
    float acc = 0.f;
    for_each_tap(a, y, x, [&](int r, int q, int iy, int ix) {
      acc += to_f32(a.in[(static_cast<long>(k) * a.h + iy) * a.w_ + ix]) *
             to_f32(a.w[(static_cast<long>(k) * a.r + r) * a.s + q]);
    });
    a.out[i] = from_f32<T>(acc);
  });
}
VMFIX_KERNEL(conv_depthwise, conv_depthwise_body)

// dot2: direct fp16 convolution over channel pairs. On gfx1030 each pair is one v_dot2_f32_f16
// (__builtin_amdgcn_fdot2, fp32 accumulate); gfx1010 has no dot instructions (the builtin does not
// even compile for it: "needs target feature dot7-insts"), so every other target takes the fp32 path.
// Built for gfx1030 and run on gfx1010 under HSA_OVERRIDE_GFX_VERSION=10.3.0, this kernel executes
// an instruction gfx1010 does not have: the override experiment's sharpest probe.
#if defined(VMFIX_BACKEND_HIP) && defined(__gfx1030__) && defined(__has_builtin)
#if __has_builtin(__builtin_amdgcn_fdot2)
#define VMFIX_HAVE_FDOT2 1
#endif
#endif

VMFIX_DEVICE inline float dot2_acc(float a0, float a1, float w0, float w1, float acc) {
#if defined(VMFIX_HAVE_FDOT2)
  typedef __fp16 h2 __attribute__((ext_vector_type(2)));
  const h2 av = {static_cast<__fp16>(a0), static_cast<__fp16>(a1)};
  const h2 wv = {static_cast<__fp16>(w0), static_cast<__fp16>(w1)};
  return __builtin_amdgcn_fdot2(av, wv, acc, false);
#else
  return acc + a0 * w0 + a1 * w1;
#endif
}

template <class B, class T>
VMFIX_DEVICE void conv_dot2_body(B& b, const ConvArgs<T>& a) {
  for_each_output(b, a, [&](long i, int k, int y, int x) {
    float acc = 0.f;
    const long hw = static_cast<long>(a.h) * a.w_, rs = static_cast<long>(a.r) * a.s;
    for_each_tap(a, y, x, [&](int r, int q, int iy, int ix) {
      for (int c = 0; c < a.c; c += 2) {  // channel pairs; an odd last channel pairs with zero
        const long ii = (static_cast<long>(c) * a.h + iy) * a.w_ + ix;
        const long wi = ((static_cast<long>(k) * a.c + c) * a.r + r) * a.s + q;
        const bool pair = c + 1 < a.c;
        acc = dot2_acc(to_f32(a.in[ii]), pair ? to_f32(a.in[ii + hw]) : 0.f, to_f32(a.w[wi]),
                       pair ? to_f32(a.w[wi + rs]) : 0.f, acc);
      }
    });
    a.out[i] = from_f32<T>(acc);
  });
}
VMFIX_KERNEL(conv_dot2, conv_dot2_body)

}  // namespace vmfix::harness

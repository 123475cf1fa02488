// SPDX-License-Identifier: GPL-2.0 OR MIT
// Test kernels with known ISA contents for `rdna1-vmfix isa` (built by make-fixtures.sh).
// gfx1030 builds carry: v_dot2c_f32_f16 (dot_kernel: undecodable on gfx1010),
// v_fmac_legacy_f32 (legacy_fma: decodes on gfx1010 as v_mac_legacy_f32), s_inst_prefetch
// (prefetch_kernel). Other targets take plain code paths; axpy is the same everywhere.
#include <hip/hip_runtime.h>

typedef _Float16 half2_t __attribute__((ext_vector_type(2)));

__global__ void axpy(float a, const float* x, float* y, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] = a * x[i] + y[i];
}

__global__ void dot_kernel(const half2_t* a, const half2_t* b, float* out, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
#if defined(__gfx1030__)
	out[i] = __builtin_amdgcn_fdot2(a[i], b[i], out[i], false);
#else
	out[i] += (float)a[i].x * (float)b[i].x + (float)a[i].y * (float)b[i].y;
#endif
}

__global__ void legacy_fma(const float* x, const float* y, float* acc, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	float c = acc[i];
#if defined(__gfx1030__)
	asm volatile("v_fmac_legacy_f32 %0, %1, %2" : "+v"(c) : "v"(x[i]), "v"(y[i]));
#else
	c += x[i] * y[i];
#endif
	acc[i] = c;
}

__global__ void prefetch_kernel(float* y, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
#if defined(__gfx1030__)
	asm volatile("s_inst_prefetch 0x1");
#endif
	if (i < n)
		y[i] *= 2.0f;
}

int main() { return 0; }

// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// One kernel source, three backends. Kernels are written in the HIP dialect as functions of a block
// object (VMFIX_KERNEL below); this header supplies, per backend:
//   VMFIX_BACKEND_HIP   hipcc (AMD): the real thing; __global__ wrappers, __shared__, __syncthreads.
//   VMFIX_BACKEND_CUDA  nvcc (the lab's NVIDIA GPU): hip* runtime names mapped to cuda*.
//   VMFIX_BACKEND_HOST  g++ (CI): a CPU-thread emulation; blocks run on a thread pool, the threads of
//                       a block run one phase at a time (b.threads(f) between b.sync() barriers).
// Kernel rules that make the emulation exact: all work happens inside b.threads(); values that live
// across a b.sync() are per-thread state (Block::PerThread) or shared memory (VMFIX_SHARED).

#include <cstddef>
#include <cstdint>

#if defined(VMFIX_BACKEND_HIP)
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
#define VMFIX_GPU 1
#define VMFIX_BACKEND_NAME "hip"
#elif defined(VMFIX_BACKEND_CUDA)
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define VMFIX_GPU 1
#define VMFIX_BACKEND_NAME "cuda"
// The runtime calls the worker makes, by their HIP names (nearest CUDA equivalents).
using hipError_t = cudaError_t;
using hipDeviceProp_t = cudaDeviceProp;
#define hipSuccess cudaSuccess
#define hipGetDeviceCount cudaGetDeviceCount
#define hipSetDevice cudaSetDevice
#define hipGetDeviceProperties cudaGetDeviceProperties
#define hipDeviceGetAttribute cudaDeviceGetAttribute
#define hipDeviceAttributeManagedMemory cudaDevAttrManagedMemory
#define hipDeviceAttributeConcurrentManagedAccess cudaDevAttrConcurrentManagedAccess
#define hipMalloc cudaMalloc
#define hipFree cudaFree
#define hipErrorOutOfMemory cudaErrorMemoryAllocation
// CUDA has no fine-grained, uncached or non-coherent memory: the nearest kinds, labelled so by the
// worker (mem_label) so no report passes one off as the other.
#define hipExtMallocWithFlags(p, sz, flags) cudaMalloc((p), (sz))
#define hipDeviceMallocFinegrained 0
#define hipDeviceMallocUncached 0
#define hipHostMalloc(p, sz, flags) cudaHostAlloc((p), (sz), (flags))
#define hipHostMallocCoherent (cudaHostAllocMapped | cudaHostAllocPortable)
#define hipHostMallocNonCoherent (cudaHostAllocMapped | cudaHostAllocWriteCombined)
#define hipHostFree cudaFreeHost
#define hipMallocManaged cudaMallocManaged
#define hipMemAttachGlobal cudaMemAttachGlobal
#define hipHostRegister cudaHostRegister
#define hipHostRegisterMapped cudaHostRegisterMapped
#define hipHostUnregister cudaHostUnregister
#define hipHostGetDevicePointer cudaHostGetDevicePointer
#define hipMemcpy cudaMemcpy
#define hipMemcpyHostToDevice cudaMemcpyHostToDevice
#define hipMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define hipDeviceSynchronize cudaDeviceSynchronize
#define hipGetLastError cudaGetLastError
#define hipGetErrorName cudaGetErrorName
#define hipGetErrorString cudaGetErrorString
#define hipLaunchKernelGGL(k, g, b, sh, st, ...) k<<<(g), (b), (sh), (st)>>>(__VA_ARGS__)
#elif defined(VMFIX_BACKEND_HOST)
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#define VMFIX_BACKEND_NAME "host"
#else
#error "define VMFIX_BACKEND_HIP, VMFIX_BACKEND_CUDA or VMFIX_BACKEND_HOST"
#endif

namespace vmfix::harness {

inline constexpr int kMaxBlockThreads = 256;

struct Dim {
  unsigned x = 1, y = 1, z = 1;
};

// A thread of a block, as the kernel body sees it in b.threads().
struct Thread {
  unsigned x, y, z, linear;
};

#if defined(VMFIX_GPU)
#define VMFIX_DEVICE __device__
#define VMFIX_HD __host__ __device__
#define VMFIX_SHARED __shared__

using half_t = __half;
__device__ inline float to_f32(float v) { return v; }
__device__ inline float to_f32(__half v) { return __half2float(v); }
template <class T>
__device__ inline T from_f32(float v);
template <>
__device__ inline float from_f32<float>(float v) {
  return v;
}
template <>
__device__ inline __half from_f32<__half>(float v) {
  return __float2half(v);
}

struct GpuBlock {
  __device__ Dim block_idx() const { return {blockIdx.x, blockIdx.y, blockIdx.z}; }
  __device__ Dim block_dim() const { return {blockDim.x, blockDim.y, blockDim.z}; }
  __device__ Dim grid_dim() const { return {gridDim.x, gridDim.y, gridDim.z}; }
  template <class F>
  __device__ void threads(F&& f) const {
    f(Thread{threadIdx.x, threadIdx.y, threadIdx.z, (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x});
  }
  __device__ void sync() const { __syncthreads(); }
  // Per-thread state that lives across barriers: registers on a GPU.
  template <class T, int N>
  struct PerThread {
    T v[N];
    __device__ T* operator()(const Thread&) { return v; }
  };
};
using Block = GpuBlock;

#define VMFIX_KERNEL(name, body)                                             \
  template <class A>                                                         \
  __global__ void __launch_bounds__(256) name(A a) {                         \
    ::vmfix::harness::GpuBlock b;                                            \
    body(b, a);                                                              \
  }

template <class A>
inline hipError_t launch_gpu(void (*k)(A), Dim grid, Dim block, const A& a) {
  hipLaunchKernelGGL(k, dim3(grid.x, grid.y, grid.z), dim3(block.x, block.y, block.z), 0, 0, a);
  return hipGetLastError();
}
#define VMFIX_LAUNCH(k, grid, block, a) ::vmfix::harness::launch_gpu(k, grid, block, a)

#else  // host emulation

#define VMFIX_DEVICE
#define VMFIX_HD
#define VMFIX_SHARED

// fp16 storage type of the host backend (IEEE binary16 bits; converted in software).
struct half_t {
  std::uint16_t bits;
};
float host_f16_to_f32(std::uint16_t h);
std::uint16_t host_f32_to_f16(float f);
inline float to_f32(float v) { return v; }
inline float to_f32(half_t v) { return host_f16_to_f32(v.bits); }
template <class T>
inline T from_f32(float v);
template <>
inline float from_f32<float>(float v) {
  return v;
}
template <>
inline half_t from_f32<half_t>(float v) {
  return half_t{host_f32_to_f16(v)};
}

struct HostBlock {
  Dim bidx, bdim, gdim;
  Dim block_idx() const { return bidx; }
  Dim block_dim() const { return bdim; }
  Dim grid_dim() const { return gdim; }
  // Runs one phase for every thread of the block, in order.
  template <class F>
  void threads(F&& f) const {
    unsigned linear = 0;
    for (unsigned z = 0; z < bdim.z; ++z)
      for (unsigned y = 0; y < bdim.y; ++y)
        for (unsigned x = 0; x < bdim.x; ++x) f(Thread{x, y, z, linear++});
  }
  // Every thread finished the previous phase when threads() returned: the barrier is implicit.
  void sync() const {}
  template <class T, int N>
  struct PerThread {
    T v[kMaxBlockThreads * N];
    T* operator()(const Thread& t) { return v + static_cast<std::size_t>(t.linear) * N; }
  };
};
using Block = HostBlock;

#define VMFIX_KERNEL(name, body)                                     \
  template <class A>                                                 \
  void name(::vmfix::harness::HostBlock& b, A a) {                   \
    body(b, a);                                                      \
  }

// Set while a kernel runs on the host backend, so that a SIGSEGV inside it is reported as an
// emulated GPU memory fault (as HIP's runtime does for a real one) rather than a host crash.
extern std::atomic<const char*> g_host_kernel_running;

// The runtime calls the worker makes, emulated: "device" memory is host memory, launches are
// synchronous, nothing fails but allocation.
using hipError_t = int;
inline constexpr hipError_t hipSuccess = 0;
inline constexpr hipError_t hipErrorOutOfMemory = 2;
enum hipMemcpyKind { hipMemcpyHostToDevice, hipMemcpyDeviceToHost };
// The host emulation of hipMalloc/hipFree: the workers' RAII Buffer owns what these return.
inline hipError_t hipMalloc(void** p, std::size_t sz) {
  *p = std::aligned_alloc(  // NOLINT(cppcoreguidelines-no-malloc)
4096, (sz + 4095) / 4096 * 4096);
  return *p != nullptr ? hipSuccess : hipErrorOutOfMemory;
}
inline hipError_t hipFree(void* p) {
  std::free(p);  // NOLINT(cppcoreguidelines-no-malloc): see hipMalloc
  return hipSuccess;
}
inline hipError_t hipMemcpy(void* dst, const void* src, std::size_t sz, hipMemcpyKind) {
  std::memcpy(dst, src, sz);
  return hipSuccess;
}
inline hipError_t hipDeviceSynchronize() { return hipSuccess; }
inline hipError_t hipGetLastError() { return hipSuccess; }
inline const char* hipGetErrorName(hipError_t e) { return e == hipSuccess ? "hipSuccess" : "hipErrorOutOfMemory"; }
inline const char* hipGetErrorString(hipError_t e) { return e == hipSuccess ? "no error" : "out of memory"; }

// Runs the grid on a pool of CPU threads; returns when every block finished (launches are synchronous).
template <class A>
inline hipError_t launch_named(const char* name, void (*k)(HostBlock&, A), Dim grid, Dim block, const A& a) {
  const std::size_t blocks = static_cast<std::size_t>(grid.x) * grid.y * grid.z;
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= blocks) return;
      HostBlock b;
      b.bidx = {static_cast<unsigned>(i % grid.x), static_cast<unsigned>((i / grid.x) % grid.y),
                static_cast<unsigned>(i / (static_cast<std::size_t>(grid.x) * grid.y))};
      b.bdim = block;
      b.gdim = grid;
      k(b, a);
    }
  };
  g_host_kernel_running.store(name);
  unsigned n = std::thread::hardware_concurrency();
  if (const char* env = std::getenv("VMFIX_HOST_THREADS")) n = static_cast<unsigned>(std::atoi(env));
  if (n == 0) n = 1;
  if (n > blocks) n = static_cast<unsigned>(blocks);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  g_host_kernel_running.store(nullptr);
  return hipSuccess;
}
#define VMFIX_LAUNCH(k, grid, block, a) ::vmfix::harness::launch_named(#k, k, grid, block, a)

#endif

}  // namespace vmfix::harness

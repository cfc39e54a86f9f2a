// rand: element i is a hash of (seed, i) with the SplitMix64 finalizer, the same function as
// src/kernels/rand.rs, so every element has the same bits as on the CPU. Floats: 53 (f64) or
// 24 (f32) random mantissa bits scaled by an exact power of two; integers: the top bit.

#define GRID_LOOP(i, n)                                                               \
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; \
         i < (n); i += (unsigned long long)blockDim.x * gridDim.x)

__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

__device__ __forceinline__ unsigned long long bits(unsigned long long seed, unsigned long long i) {
    return mix64(mix64(seed ^ 0x6a09e667f3bcc908ULL) + i * 0x9e3779b97f4a7c15ULL);
}

extern "C" __global__ void rand_f64(double* out, unsigned long long seed, unsigned long long n) {
    GRID_LOOP(i, n) { out[i] = __dmul_rn((double)(bits(seed, i) >> 11), 1.0 / 9007199254740992.0); }
}

extern "C" __global__ void rand_f32(float* out, unsigned long long seed, unsigned long long n) {
    GRID_LOOP(i, n) { out[i] = __fmul_rn((float)(bits(seed, i) >> 40), 1.0f / 16777216.0f); }
}

extern "C" __global__ void rand_i64(long long* out, unsigned long long seed, unsigned long long n) {
    GRID_LOOP(i, n) { out[i] = (long long)(bits(seed, i) >> 63); }
}

extern "C" __global__ void rand_u8(unsigned char* out, unsigned long long seed, unsigned long long n) {
    GRID_LOOP(i, n) { out[i] = (unsigned char)(bits(seed, i) >> 63); }
}

// Triangle fix-ups of row-major n x n f64 tiles after cuBLAS/cuSOLVER, which write one
// triangle only: mirror_lower copies the lower triangle onto the upper (syrk updates the full
// tile, like the CPU kernel), zero_upper clears above the diagonal (potrf returns L with zeros
// above it). One thread per element, grid-stride.

extern "C" __global__ void mirror_lower_f64(double* a, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n * n;
         i += (long long)blockDim.x * gridDim.x) {
        long long r = i / n, c = i % n;
        if (c > r) a[i] = a[c * n + r];
    }
}

extern "C" __global__ void zero_upper_f64(double* a, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n * n;
         i += (long long)blockDim.x * gridDim.x) {
        long long r = i / n, c = i % n;
        if (c > r) a[i] = 0.0;
    }
}

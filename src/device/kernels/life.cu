// One Conway B3/S23 step of an h x w u8 tile from its padded copy ((h + 2) x (w + 2), built
// by halo.cu's pad_u8 from the tile and its eight one-cell strips). Every nonzero byte reads
// as alive, which is the CPU kernel's `normalize` and a no-op on 0/1 cells. Integer
// arithmetic only, so the result equals the CPU kernel's (src/kernels/life.rs) exactly.
// One thread per cell, grid-stride.

extern "C" __global__ void life_step(const unsigned char* p, unsigned char* out, long long h,
                                     long long w) {
    long long pw = w + 2, total = h * w;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        long long r = i / w, c = i % w;
        const unsigned char* a = p + r * pw + c;  // padded row above, column c - 1
        const unsigned char* b = a + pw;
        const unsigned char* d = b + pw;
        int s = (a[0] != 0) + (a[1] != 0) + (a[2] != 0) + (b[0] != 0) + (b[2] != 0) +
                (d[0] != 0) + (d[1] != 0) + (d[2] != 0);
        int alive = b[1] != 0;
        out[i] = (s == 3 || (s == 2 && alive)) ? 1 : 0;
    }
}

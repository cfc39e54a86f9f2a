// One Conway B3/S23 step from a stencil's padded u8 tile p (built by halo.cu's pad_u8 from the
// tile and its eight strips; rows pw cells wide). Output cell (r, c) of the oh x ow result is
// the padded cell (r0 + 1 + r, c0 + 1 + c), or zero within zn, zs, zw, ze rows or columns of
// the result's edges n, s, w, e: r0 = c0 = 0 and no zero ring for the tile's next state from
// one-cell strips; deep halos (src/graph/stencil.rs, Frame) shift the window to grow or drop
// ghost cells and leave the stale ones zero. Every nonzero byte reads as alive, which is the
// CPU kernel's `normalize` and a no-op on 0/1 cells. Integer arithmetic only, so the result
// equals the CPU kernel's (src/kernels/life.rs) exactly. One thread per cell, grid-stride.

extern "C" __global__ void life_step(const unsigned char* p, unsigned char* out, long long oh,
                                     long long ow, long long pw, long long r0, long long c0,
                                     long long zn, long long zs, long long zw, long long ze) {
    long long total = oh * ow;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        long long r = i / ow, c = i % ow;
        if (r < zn || r >= oh - zs || c < zw || c >= ow - ze) {
            out[i] = 0;
            continue;
        }
        const unsigned char* a = p + (r0 + r) * pw + c0 + c;  // padded row above, column left
        const unsigned char* b = a + pw;
        const unsigned char* d = b + pw;
        int s = (a[0] != 0) + (a[1] != 0) + (a[2] != 0) + (b[0] != 0) + (b[2] != 0) +
                (d[0] != 0) + (d[1] != 0) + (d[2] != 0);
        int alive = b[1] != 0;
        out[i] = (s == 3 || (s == 2 && alive)) ? 1 : 0;
    }
}

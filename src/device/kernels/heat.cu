// One explicit heat step of an h x w f64 tile at (r0, c0) of a gh x gw grid, from its padded
// copy ((h + 2) x (w + 2), built by halo.cu's pad_f64 from the tile and its four strips).
// Interior cells get u + alpha * ((((N + S) + E) + W) - 4u); cells on the outer ring of the
// global grid keep their value. This is src/kernels/heat.rs's order of operations exactly,
// and the _rn intrinsics fix the rounding and forbid FMA contraction (NVRTC runs with
// --fmad=false too), so the result is bit-identical to the CPU's. One thread per cell.

extern "C" __global__ void heat_step(const double* p, double* out, long long h, long long w,
                                     double alpha, long long gh, long long gw, long long r0,
                                     long long c0) {
    long long pw = w + 2, total = h * w;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        long long r = i / w, c = i % w;
        long long q = (r + 1) * pw + (c + 1);
        double u = p[q];
        long long gr = r0 + r, gc = c0 + c;
        if (gr == 0 || gr + 1 == gh || gc == 0 || gc + 1 == gw) {
            out[i] = u;
            continue;
        }
        double nbr = __dadd_rn(__dadd_rn(__dadd_rn(p[q - pw], p[q + pw]), p[q + 1]), p[q - 1]);
        double lap = __dsub_rn(nbr, __dmul_rn(4.0, u));
        out[i] = __dadd_rn(u, __dmul_rn(alpha, lap));
    }
}

// 2-D correlation of an h x w f64 tile with a kh x kw kernel, from its padded copy
// ((h + 2(kh/2)) x (w + 2(kw/2)), built by halo.cu's pad_f64): out[i, j] = the sum over a
// (outer) and b (inner) of k[a, b] * padded[i + a, j + b], accumulated from 0.0. This is
// src/kernels/conv2d.rs's order exactly, and the _rn intrinsics forbid FMA contraction, so the
// result is bit-identical to the CPU's. One thread per output cell, grid-stride.

extern "C" __global__ void conv2d_f64(const double* p, const double* k, double* out, long long h,
                                      long long w, long long kh, long long kw) {
    long long pw = w + 2 * (kw / 2), total = h * w;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        long long r = i / w, c = i % w;
        double s = 0.0;
        for (long long a = 0; a < kh; ++a) {
            const double* row = p + (r + a) * pw + c;
            for (long long b = 0; b < kw; ++b) {
                s = __dadd_rn(s, __dmul_rn(k[a * kw + b], row[b]));
            }
        }
        out[i] = s;
    }
}

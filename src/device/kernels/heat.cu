// One explicit step of the 5-point heat equation on an h x w grid of f64:
// interior u' = u + alpha * ((((N + S) + E) + W) - 4u), the outer ring copied unchanged.
// The _rn intrinsics fix the rounding and forbid FMA contraction, so the result is a fixed
// function of the input; the CPU kernel must add in the same order to match bit for bit.
// Standalone for now: not yet wired to a dirk op (the CPU heat op lands in another branch).

extern "C" __global__ void heat_step(const double* u, double* out, int h, int w, double alpha) {
    for (int r = blockIdx.y * blockDim.y + threadIdx.y; r < h; r += blockDim.y * gridDim.y) {
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < w; c += blockDim.x * gridDim.x) {
            long long i = (long long)r * w + c;
            if (r == 0 || c == 0 || r == h - 1 || c == w - 1) {
                out[i] = u[i];
                continue;
            }
            double nbr = __dadd_rn(__dadd_rn(__dadd_rn(u[i - w], u[i + w]), u[i + 1]), u[i - 1]);
            double lap = __dsub_rn(nbr, __dmul_rn(4.0, u[i]));
            out[i] = __dadd_rn(u[i], __dmul_rn(alpha, lap));
        }
    }
}

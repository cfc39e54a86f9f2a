// sum, first pass: partials[c] = the sum of chunk c (elements c*chunk .. min((c+1)*chunk, n)),
// added left to right in f64. The host then adds the partials left to right. With chunk equal
// to the CPU kernel's CHUNK (dirk passes it), this is exactly the CPU's order of additions, so
// the result is the same bits as the CPU's and does not depend on the launch configuration:
// the grid only decides which thread sums which chunk, never the order within one.

#define GRID_LOOP(i, n)                                                               \
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; \
         i < (n); i += (unsigned long long)blockDim.x * gridDim.x)

#define SUM_CHUNKS(NAME, T)                                                               \
    extern "C" __global__ void NAME(const T* x, unsigned long long n, unsigned long long chunk, \
                                    double* partials, unsigned long long chunks) {        \
        GRID_LOOP(c, chunks) {                                                            \
            unsigned long long lo = c * chunk;                                            \
            unsigned long long hi = lo + chunk < n ? lo + chunk : n;                      \
            double s = 0.0;                                                               \
            for (unsigned long long i = lo; i < hi; ++i) s = __dadd_rn(s, (double)x[i]);  \
            partials[c] = s;                                                              \
        }                                                                                 \
    }

SUM_CHUNKS(sum_chunks_f64, double)
SUM_CHUNKS(sum_chunks_f32, float)
SUM_CHUNKS(sum_chunks_i64, long long)
SUM_CHUNKS(sum_chunks_u8, unsigned char)

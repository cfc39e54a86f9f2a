// fill: every element set to one value, already converted to the dtype on the host exactly as
// the CPU kernel converts it.

#define GRID_LOOP(i, n)                                                               \
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; \
         i < (n); i += (unsigned long long)blockDim.x * gridDim.x)

#define FILL(NAME, T)                                                                     \
    extern "C" __global__ void NAME(T* out, T v, unsigned long long n) {                  \
        GRID_LOOP(i, n) { out[i] = v; }                                                   \
    }

FILL(fill_f64, double)
FILL(fill_f32, float)
FILL(fill_i64, long long)
FILL(fill_u8, unsigned char)

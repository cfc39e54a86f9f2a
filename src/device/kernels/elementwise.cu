// Elementwise add, sub, mul, div: array-array (_aa), array-scalar (_as), scalar-array (_sa).
// Floats use the _rn intrinsics (and dirk compiles with --fmad=false), so no multiply-add is
// ever contracted into an FMA: each element is the correctly rounded IEEE result, bit for bit
// what the CPU kernel computes. Integers wrap like Rust's wrapping_add/sub/mul (computed in
// unsigned arithmetic, where overflow is defined). Integer division stays on the CPU, which
// reports division by zero.
// Grid-stride loops: any launch configuration gives the same result.

#define GRID_LOOP(i, n)                                                               \
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; \
         i < (n); i += (unsigned long long)blockDim.x * gridDim.x)

#define ELEMENTWISE(NAME, T, EXPR)                                                        \
    extern "C" __global__ void NAME##_aa(const T* a, const T* b, T* out, unsigned long long n) { \
        GRID_LOOP(i, n) { T x = a[i]; T y = b[i]; out[i] = (EXPR); }                      \
    }                                                                                     \
    extern "C" __global__ void NAME##_as(const T* a, T y, T* out, unsigned long long n) {  \
        GRID_LOOP(i, n) { T x = a[i]; out[i] = (EXPR); }                                  \
    }                                                                                     \
    extern "C" __global__ void NAME##_sa(T x, const T* b, T* out, unsigned long long n) {  \
        GRID_LOOP(i, n) { T y = b[i]; out[i] = (EXPR); }                                  \
    }

ELEMENTWISE(add_f64, double, __dadd_rn(x, y))
ELEMENTWISE(sub_f64, double, __dsub_rn(x, y))
ELEMENTWISE(mul_f64, double, __dmul_rn(x, y))
ELEMENTWISE(div_f64, double, __ddiv_rn(x, y))

ELEMENTWISE(add_f32, float, __fadd_rn(x, y))
ELEMENTWISE(sub_f32, float, __fsub_rn(x, y))
ELEMENTWISE(mul_f32, float, __fmul_rn(x, y))
ELEMENTWISE(div_f32, float, __fdiv_rn(x, y))

#define WRAP_I64(OP) (long long)((unsigned long long)x OP (unsigned long long)y)
ELEMENTWISE(add_i64, long long, WRAP_I64(+))
ELEMENTWISE(sub_i64, long long, WRAP_I64(-))
ELEMENTWISE(mul_i64, long long, WRAP_I64(*))

ELEMENTWISE(add_u8, unsigned char, (unsigned char)(x + y))
ELEMENTWISE(sub_u8, unsigned char, (unsigned char)(x - y))
ELEMENTWISE(mul_u8, unsigned char, (unsigned char)(x * y))

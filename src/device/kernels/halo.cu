// Assembles a stencil's padded tile on the device: the (h + 2hr) x (w + 2hc) array of the
// tile with its eight neighbour strips around it, exactly as the CPU `Halo` reads it
// (src/kernels/halo.rs): rows above the tile from the nw, n, ne strips, rows below from sw, s,
// se, the others from w, the tile and e. A side whose bit in `arrays` is clear is the constant
// k[side] instead (a number argument: cells outside a constant boundary, or a missing corner).
// Side order: n, s, w, e, nw, ne, sw, se (bits 0..7). A side's array may be larger than its
// strip (the neighbour's whole tile, or the strip of a side holding a corner: see
// src/graph/stencil.rs); `at` says where the strip starts in it and its row stride. One thread
// per padded cell, grid-stride.

// Where each side's strip lies in its array: first element and row stride, in elements.
struct Strips {
    long long start[8];
    long long stride[8];
};

template <typename T>
__device__ void pad(const T* c, const T* n, const T* s, const T* w, const T* e, const T* nw,
                    const T* ne, const T* sw, const T* se, T kn, T ks, T kw, T ke, T knw, T kne,
                    T ksw, T kse, unsigned int arrays, Strips at, long long h, long long wd,
                    long long hr, long long hc, T* out) {
    long long pw = wd + 2 * hc, ph = h + 2 * hr, total = ph * pw;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        long long pr = i / pw, pc = i % pw;
        long long r = pr - hr, cc = pc - hc;
        // Row band: 0 above, 1 beside, 2 below; k the row within the side's strip.
        int rb = r < 0 ? 0 : (r >= h ? 2 : 1);
        long long k = rb == 0 ? pr : (rb == 2 ? r - h : r);
        // Column band: 0 left, 1 within, 2 right; j the column within the side's strip.
        int cb = cc < 0 ? 0 : (cc >= wd ? 2 : 1);
        long long j = cb == 0 ? pc : (cb == 2 ? cc - wd : cc);
        const T* src;
        T konst;
        int side;
        if (rb == 1 && cb == 1) {
            out[i] = c[k * wd + j];
            continue;
        }
        if (rb == 0) {
            side = cb == 0 ? 4 : (cb == 1 ? 0 : 5);
        } else if (rb == 2) {
            side = cb == 0 ? 6 : (cb == 1 ? 1 : 7);
        } else {
            side = cb == 0 ? 2 : 3;
        }
        switch (side) {
            case 0: src = n; konst = kn; break;
            case 1: src = s; konst = ks; break;
            case 2: src = w; konst = kw; break;
            case 3: src = e; konst = ke; break;
            case 4: src = nw; konst = knw; break;
            case 5: src = ne; konst = kne; break;
            case 6: src = sw; konst = ksw; break;
            default: src = se; konst = kse; break;
        }
        out[i] = (arrays >> side) & 1u ? src[at.start[side] + k * at.stride[side] + j] : konst;
    }
}

#define PAD(T, NAME)                                                                           \
    extern "C" __global__ void NAME(const T* c, const T* n, const T* s, const T* w, const T* e, \
                                    const T* nw, const T* ne, const T* sw, const T* se, T kn,   \
                                    T ks, T kw, T ke, T knw, T kne, T ksw, T kse,               \
                                    unsigned int arrays, Strips at, long long h, long long wd,  \
                                    long long hr, long long hc, T* out) {                       \
        pad<T>(c, n, s, w, e, nw, ne, sw, se, kn, ks, kw, ke, knw, kne, ksw, kse, arrays, at, h, \
               wd, hr, hc, out);                                                                \
    }

PAD(double, pad_f64)
PAD(unsigned char, pad_u8)

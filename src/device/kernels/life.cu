// One step of Conway's Game of Life (B3/S23) on an h x w grid of u8 cells (0 dead, 1 alive).
// periodic != 0: the grid wraps around; otherwise cells outside the grid are dead. One thread
// per cell (2-D grid-stride); integer arithmetic only, so the result is exact.
// Standalone for now: not yet wired to a dirk op (the CPU Life op lands in another branch).

extern "C" __global__ void life_step(const unsigned char* in, unsigned char* out, int h, int w,
                                     int periodic) {
    for (int r = blockIdx.y * blockDim.y + threadIdx.y; r < h; r += blockDim.y * gridDim.y) {
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < w; c += blockDim.x * gridDim.x) {
            int alive = 0;
            for (int dr = -1; dr <= 1; ++dr) {
                for (int dc = -1; dc <= 1; ++dc) {
                    if (dr == 0 && dc == 0) continue;
                    int rr = r + dr, cc = c + dc;
                    if (periodic) {
                        rr = (rr + h) % h;
                        cc = (cc + w) % w;
                    } else if (rr < 0 || rr >= h || cc < 0 || cc >= w) {
                        continue;
                    }
                    alive += in[(long long)rr * w + cc];
                }
            }
            unsigned char self = in[(long long)r * w + c];
            out[(long long)r * w + c] = (alive == 3 || (self && alive == 2)) ? 1 : 0;
        }
    }
}

/* The C plugin the benchmarks measure (include/dirk_plugin.h):
 *
 *   cbench::noop   [a]              a copy of a (benches/overhead.rs: per-task overhead of a
 *                                   plugin kernel beside the built-in `add`)
 *   cbench::edge   [like, tile]     one border row or column of `tile`, shaped like `like`
 *                                   (params {"take": 0 first row, 1 last row, 2 first
 *                                   column, 3 last column}): a halo strip, since a plugin's
 *                                   result is typed like its first array argument
 *   cbench::heat5  [c, n, s, w, e]  one explicit heat step of the tile c from its
 *                                   neighbours' strips (a number: no neighbour there),
 *                                   u + alpha*(n + s + e + w - 4u) left to right as the
 *                                   built-in heat_step; cells on the global grid's outer ring
 *                                   (params "ring": [top, bottom, left, right], 1 where the
 *                                   tile's side is on it) keep their value
 *
 *   cc -shared -fPIC -O3 -I include benches/plugins/bench_plugin.c -o libcbench.so
 */
#include "dirk_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number after "key": in a flat JSON object (the n-th of a list when n >= 0). */
static int param(const char *json, const char *key, int n, double *out) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char *p = strstr(json, pattern);
  if (!p) return -1;
  p = strchr(p + strlen(pattern), ':');
  if (!p) return -1;
  p++;
  if (n >= 0) {
    p = strchr(p, '[');
    if (!p) return -1;
    p++;
    for (int k = 0; k < n; k++) {
      p = strchr(p, ',');
      if (!p) return -1;
      p++;
    }
  }
  char *end;
  *out = strtod(p, &end);
  return end == p ? -1 : 0;
}

static int fail(dirk_context *ctx, const char *msg) {
  snprintf(ctx->error, DIRK_ERROR_BYTES, "%s", msg);
  return 1;
}

static int64_t len(const DLTensor *t) {
  int64_t n = 1;
  for (int32_t d = 0; d < t->ndim; d++) n *= t->shape[d];
  return n;
}

static int noop(const DLTensor *in, int32_t n, DLTensor *out, const char *params,
                dirk_context *ctx) {
  (void)n, (void)params, (void)ctx;
  memcpy(out->data, in[0].data, (size_t)len(&in[0]) * in[0].dtype.bits / 8);
  return 0;
}

static int edge(const DLTensor *in, int32_t n, DLTensor *out, const char *params,
                dirk_context *ctx) {
  double take;
  if (n != 2 || in[1].ndim != 2) return fail(ctx, "edge takes [like, tile], tile 2-D");
  if (param(params, "take", -1, &take) != 0) return fail(ctx, "edge needs {\"take\": 0..3}");
  const int64_t h = in[1].shape[0], w = in[1].shape[1];
  const double *t = in[1].data;
  double *o = out->data;
  const int k = (int)take;
  if (k < 2) {
    if (len(out) != w) return fail(ctx, "edge: a row strip must be shaped [1, w]");
    memcpy(o, t + (k == 0 ? 0 : (h - 1) * w), (size_t)w * sizeof(double));
  } else {
    if (len(out) != h) return fail(ctx, "edge: a column strip must be shaped [h, 1]");
    const int64_t j = k == 2 ? 0 : w - 1;
    for (int64_t i = 0; i < h; i++) o[i] = t[i * w + j];
  }
  return 0;
}

/* Element `i` of a strip, or the number standing in for it. */
static double side(const DLTensor *s, int64_t i) {
  const double *d = s->data;
  return s->ndim == 0 ? d[0] : d[i];
}

static int heat5(const DLTensor *in, int32_t n, DLTensor *out, const char *params,
                 dirk_context *ctx) {
  double alpha, ring[4];
  if (n != 5 || in[0].ndim != 2) return fail(ctx, "heat5 takes [c, n, s, w, e], c 2-D");
  if (param(params, "alpha", -1, &alpha) != 0) return fail(ctx, "heat5 needs {\"alpha\": x}");
  for (int k = 0; k < 4; k++)
    if (param(params, "ring", k, &ring[k]) != 0) return fail(ctx, "heat5 needs \"ring\": [4]");
  const int64_t h = in[0].shape[0], w = in[0].shape[1];
  const double *u = in[0].data;
  double *v = out->data;
  for (int64_t i = 0; i < h; i++) {
    const int keep_row = (i == 0 && ring[0] != 0.0) || (i == h - 1 && ring[1] != 0.0);
    const double *row = u + i * w;
    double *orow = v + i * w;
    if (keep_row) {
      memcpy(orow, row, (size_t)w * sizeof(double));
      continue;
    }
    const double *up = i > 0 ? row - w : NULL, *down = i + 1 < h ? row + w : NULL;
    for (int64_t j = 0; j < w; j++) {
      const double c = row[j];
      const double nn = up ? up[j] : side(&in[1], j);
      const double ss = down ? down[j] : side(&in[2], j);
      const double ww = j > 0 ? row[j - 1] : side(&in[3], i);
      const double ee = j + 1 < w ? row[j + 1] : side(&in[4], i);
      orow[j] = c + alpha * (nn + ss + ee + ww - 4.0 * c);
    }
    if (ring[2] != 0.0) orow[0] = row[0];
    if (ring[3] != 0.0) orow[w - 1] = row[w - 1];
  }
  return 0;
}

static const dirk_kernel kernels[] = {
    {"cbench::noop", "[a]", 1, noop},
    {"cbench::edge", "[like, tile]", 2, edge},
    {"cbench::heat5", "[c, n, s, w, e]", 5, heat5},
};

static const dirk_plugin plugin = {DIRK_PLUGIN_ABI_VERSION, 3, kernels};

const dirk_plugin *dirk_plugin_v1(void) { return &plugin; }

/* A dirk kernel plugin in C (include/dirk_plugin.h): `cheat::heat5`, one explicit heat step
 * of a whole 2-D f64 grid (interior u + alpha*(N+S+E+W-4u), left to right; the outer ring
 * kept), and `cheat::axpy`, a*x + y. Params come as JSON text: {"alpha": 0.1}, {"a": 0.5}.
 *
 *   cc -shared -fPIC -O2 -I include examples/plugins/heat_plugin.c -o libcheat.so
 *   sha256sum libcheat.so     # the job's "sha256"
 */
#include "dirk_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number after "key": in a flat JSON object; 0 when found. */
static int param(const char *json, const char *key, double *out) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char *p = strstr(json, pattern);
  if (!p) return -1;
  p = strchr(p + strlen(pattern), ':');
  if (!p) return -1;
  char *end;
  *out = strtod(p + 1, &end);
  return end == p + 1 ? -1 : 0;
}

static int fail(dirk_context *ctx, const char *msg) {
  snprintf(ctx->error, DIRK_ERROR_BYTES, "%s", msg);
  return 1;
}

static int is_f64(const DLTensor *t) { return t->dtype.code == kDLFloat && t->dtype.bits == 64; }

static int heat5(const DLTensor *in, int32_t n, DLTensor *out, const char *params,
                 dirk_context *ctx) {
  double alpha;
  if (n != 1 || in[0].ndim != 2 || !is_f64(&in[0])) return fail(ctx, "heat5 takes one 2-D f64 grid");
  if (param(params, "alpha", &alpha) != 0) return fail(ctx, "heat5 needs params {\"alpha\": number}");
  const int64_t h = in[0].shape[0], w = in[0].shape[1];
  const double *u = in[0].data;
  double *v = out->data;
  memcpy(v, u, (size_t)(h * w) * sizeof(double));
  for (int64_t i = 1; i + 1 < h; i++)
    for (int64_t j = 1; j + 1 < w; j++) {
      const double c = u[i * w + j];
      const double lap = u[(i - 1) * w + j] + u[(i + 1) * w + j] + u[i * w + j + 1] +
                         u[i * w + j - 1] - 4.0 * c;
      v[i * w + j] = c + alpha * lap;
    }
  return 0;
}

static int axpy(const DLTensor *in, int32_t n, DLTensor *out, const char *params,
                dirk_context *ctx) {
  double a;
  if (n != 2 || !is_f64(&in[0]) || !is_f64(&in[1])) return fail(ctx, "axpy takes two f64 arrays");
  if (param(params, "a", &a) != 0) return fail(ctx, "axpy needs params {\"a\": number}");
  int64_t len = 1;
  for (int32_t d = 0; d < in[0].ndim; d++) len *= in[0].shape[d];
  const double *x = in[0].data, *y = in[1].data;
  double *z = out->data;
  for (int64_t k = 0; k < len; k++) z[k] = a * x[k] + y[k];
  return 0;
}

/* Fails on purpose when params say {"fail": 1}: how a plugin reports an error. */
static int check(const DLTensor *in, int32_t n, DLTensor *out, const char *params,
                 dirk_context *ctx) {
  double f = 0.0;
  (void)param(params, "fail", &f);
  if (f != 0.0) {
    snprintf(ctx->error, DIRK_ERROR_BYTES, "check failed on rank %d as asked", (int)ctx->rank);
    return 3;
  }
  int64_t len = 1;
  for (int32_t d = 0; d < in[0].ndim; d++) len *= in[0].shape[d];
  memcpy(out->data, in[0].data, (size_t)len * in[0].dtype.bits / 8);
  (void)n;
  return 0;
}

static const dirk_kernel kernels[] = {
    {"cheat::heat5", "[u]", 1, heat5},
    {"cheat::axpy", "[x, y]", 2, axpy},
    {"cheat::check", "[a]", 1, check},
};

static const dirk_plugin plugin = {DIRK_PLUGIN_ABI_VERSION, 3, kernels};

const dirk_plugin *dirk_plugin_v1(void) { return &plugin; }

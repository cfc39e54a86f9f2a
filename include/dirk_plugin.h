/* dirk_plugin.h: the C ABI of dirk kernel plugins (C, C++, Fortran through bind(C)).
 *
 * A plugin is a shared library that exports
 *
 *     const dirk_plugin *dirk_plugin_v1(void);
 *
 * returning a table of kernels that lives as long as the process (dirk never unloads a
 * plugin). A job names its plugins:
 *
 *     "plugins": [{"path": "libheat.so", "sha256": "<hex of the file>"}]
 *
 * (paths relative to the job file); every rank loads them before planning, and the ranks
 * check that they loaded the same files. Job files then name the kernels like any other:
 * "op": "heat::axpy" (names are namespace::name).
 *
 * Versioning: this header only grows. A new field is added at the end of a struct, a new
 * struct or function gets a new name; `abi_version` says which layout the plugin was built
 * against, and dirk refuses a version it does not know (exit 2).
 *
 * Arrays are DLPack DLTensors (the layout of dlpack.h 0.8, declared here so no other header
 * is needed): row-major, `strides` NULL, `byte_offset` 0, on the CPU (device_type 1).
 * Number arguments and scalar values come as 0-d f64 tensors.
 */
#ifndef DIRK_PLUGIN_H
#define DIRK_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The layout version this header describes. */
#define DIRK_PLUGIN_ABI_VERSION 1

/* ---- DLPack (dlpack.h 0.8), declared once ---- */
#ifndef DLPACK_VERSION
typedef enum { kDLCPU = 1, kDLCUDA = 2 } DLDeviceType;
typedef struct {
  int32_t device_type; /* a DLDeviceType */
  int32_t device_id;
} DLDevice;
typedef enum { kDLInt = 0, kDLUInt = 1, kDLFloat = 2 } DLDataTypeCode;
typedef struct {
  uint8_t code;  /* a DLDataTypeCode */
  uint8_t bits;  /* 8, 32 or 64 */
  uint16_t lanes; /* 1 */
} DLDataType;
typedef struct {
  void *data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides; /* NULL: compact row-major */
  uint64_t byte_offset;
} DLTensor;
#endif

/* Bytes of `dirk_context.error`, the message buffer. */
#define DIRK_ERROR_BYTES 512

/* What a kernel call knows about where it runs. dirk owns it; the kernel may write `error`. */
typedef struct {
  uint32_t abi_version; /* the layout dirk passes (>= the plugin's) */
  int32_t rank;         /* MPI rank */
  int32_t threads;      /* worker threads of this rank */
  void *cuda_stream;    /* the CUDA stream of a GPU call; NULL on the CPU */
  char error[DIRK_ERROR_BYTES]; /* a NUL-terminated message when the kernel returns non-zero */
} dirk_context;

/* A kernel's CPU function: reads `inputs[0..n_inputs)`, writes every element of `output`
 * (allocated by dirk with the type of the first array input: same dtype and shape), gets the
 * task's params as JSON text. Returns 0, or non-zero after writing `ctx->error`; the task then
 * fails (exit 1) with that message, the task id, the kernel and the rank. */
typedef int (*dirk_cpu_fn)(const DLTensor *inputs, int32_t n_inputs, DLTensor *output,
                           const char *params_json, dirk_context *ctx);

/* One kernel. */
typedef struct {
  const char *name;  /* namespace::name */
  const char *args;  /* its arguments as a job file writes them, e.g. "[x, y]" */
  int32_t arity;     /* how many arguments; -1: any */
  dirk_cpu_fn cpu;   /* required */
} dirk_kernel;

/* What dirk_plugin_v1 returns. */
typedef struct {
  uint32_t abi_version; /* DIRK_PLUGIN_ABI_VERSION of the header the plugin was built with */
  uint32_t n_kernels;
  const dirk_kernel *kernels;
} dirk_plugin;

/* The symbol every plugin exports. */
const dirk_plugin *dirk_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* DIRK_PLUGIN_H */

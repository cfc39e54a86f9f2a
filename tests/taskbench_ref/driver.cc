// Reference driver for dirk's Task Bench fidelity test (tests/it/taskbench_fidelity.rs).
//
// dirk's own code, linked against Task Bench's `core/` (StanfordLegion/task-bench, commit
// bf4ad1982d4b748bf3fd54e8239e798114e6ade8, built by its own Makefile): it builds Task
// Bench's `App` from the flags it is given, exactly as Task Bench's MPI port does, prints
// what `App::report_timing` prints (Total Tasks, Total Dependencies, Local/Nonlocal
// Dependencies with -nodes, Total FLOPs, Total Bytes, …), then a line `Digest 0x…`: a 64-bit
// FNV-1a over, for every graph, timestep t and point p: t, p, the number of inputs, the
// inputs (the points of t-1 that p depends on, in Task Bench's order), the task's FLOPs and
// bytes; then, for every point q of t-1: q, the number of its consumers at t and the
// consumers (the `-vv` reverse dependencies). Each value is hashed as its 8 little-endian
// bytes.
//
// `driver --siphash` prints SipHash-2-4 of the bytes 00, 00 01, …, 00..3e with the key
// 00..0f (the SipHash paper's vectors), and `driver --uniform a b c …` prints Task Bench's
// 64 random bits (`gen_bits`) and `random_uniform` of the C longs a b c …, as hex and %.17g.
//
// `generate.sh` beside this file builds it and prints the test's table.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core.h"
#include "core_random.h"
#include "siphash.h"

extern "C" void gen_bits(const void *input, size_t input_bytes, void *output);

static uint64_t digest = 0xcbf29ce484222325ULL;

static void mix(long long v) {
  uint64_t u = (uint64_t)v;
  for (int i = 0; i < 8; ++i) {
    digest ^= (u >> (8 * i)) & 0xff;
    digest *= 0x100000001b3ULL;
  }
}

static std::vector<long> expand(const std::vector<std::pair<long, long> > &deps, long first,
                                long width) {
  std::vector<long> out;
  for (auto d : deps) {
    for (long x = d.first; x <= d.second; ++x) {
      if (first <= x && x < first + width) out.push_back(x);
    }
  }
  return out;
}

int main(int argc, char **argv) {
  if (argc > 1 && std::string(argv[1]) == "--siphash") {
    uint8_t key[16], in[64], out[8];
    for (int i = 0; i < 16; ++i) key[i] = i;
    for (int len = 0; len < 64; ++len) {
      in[len] = len;
      siphash(in, len, key, out, 8);
      uint64_t v = 0;
      for (int i = 0; i < 8; ++i) v |= (uint64_t)out[i] << (8 * i);
      printf("%d 0x%016llx\n", len, (unsigned long long)v);
    }
    return 0;
  }
  if (argc > 1 && std::string(argv[1]) == "--uniform") {
    std::vector<long> key;
    for (int i = 2; i < argc; ++i) key.push_back(atol(argv[i]));
    uint64_t bits;
    gen_bits(key.data(), key.size() * sizeof(long), &bits);
    printf("0x%016llx %.17g\n", (unsigned long long)bits,
           random_uniform(key.data(), key.size() * sizeof(long)));
    return 0;
  }

  App app(argc, argv);
  for (auto g : app.graphs) {
    for (long t = 0; t < g.timesteps; ++t) {
      long offset = g.offset_at_timestep(t), width = g.width_at_timestep(t);
      long last_offset = g.offset_at_timestep(t - 1), last_width = g.width_at_timestep(t - 1);
      long dset = g.dependence_set_at_timestep(t);
      for (long p = offset; p < offset + width; ++p) {
        auto inputs = expand(g.dependencies(dset, p), last_offset, last_width);
        mix(t);
        mix(p);
        mix(inputs.size());
        for (long x : inputs) mix(x);
        mix(count_flops_per_task(g, t, p));
        mix(count_bytes_per_task(g, t, p));
      }
      for (long q = last_offset; q < last_offset + last_width; ++q) {
        auto consumers = expand(g.reverse_dependencies(dset, q), offset, width);
        mix(q);
        mix(consumers.size());
        for (long x : consumers) mix(x);
      }
    }
  }
  // Task Bench's own summary (what its MPI port prints on rank 0), then the digest.
  app.report_timing(1.0);
  printf("Digest 0x%016llx\n", (unsigned long long)digest);
  return 0;
}

//! The scheduler's device path against the host-backed device (no GPU needed): placement of
//! GPU-scoped tasks, staging and device-copy caching, eviction under a tiny memory limit, the
//! CPU fallback, cost-model offload of unscoped tasks, and results equal to the CPU's (bit
//! identity of the two paths) and to references computed here (`reference`: the ops, Life,
//! heat, the correlation and a Cholesky residual over the whole grid), so that the check fails
//! if the kernels themselves are wrong: on a GPU-less machine the host-backed device runs the
//! CPU kernels too. Then the real binary on this GPU-less machine: `--gpus auto` says so in
//! one line, and a job scoped to the GPU exits 2. Real-GPU checks are in `gpu_node`, skipped
//! without a GPU.

use crate::common::*;
use crate::reference::{
    cholesky_residual, conv2d, fixed_order_sum, heat, life, rand_cell, rand_f64, seeded_spd,
};
use dirk::device::{DeviceContext, HostDevice};
use dirk::graph::{Array, Data, DeviceClass, Scope, ValueType};
use dirk::runtime::{run_in_process, run_in_process_with_devices};
use dirk::{Arg, DType, Graph, Handle, Op, Value};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

fn host(capacity: usize) -> Arc<DeviceContext> {
    Arc::new(DeviceContext::new(Arc::new(HostDevice::new(capacity, 2))))
}

fn stat(c: &AtomicU64) -> u64 {
    dirk::device::DeviceStats::get(c)
}

/// A graph of every op with a device kernel; `scope` on every task.
fn mixed(scope: Scope) -> (Graph, Vec<Handle>) {
    let mut g = Graph::new();
    let t = |g: &mut Graph, id: &str, op: Op, args: Vec<Arg>| {
        g.spawn_named(id, op, args, scope.clone()).unwrap()
    };
    let x = t(
        &mut g,
        "x",
        Op::new(dirk::kernels::Rand {
            seed: 3,
            dtype: DType::F64,
        }),
        vec![Arg::Shape(vec![100, 100])],
    );
    let y = t(
        &mut g,
        "y",
        Op::new(dirk::kernels::Mul),
        vec![x.into(), 2.5.into()],
    );
    let z = t(
        &mut g,
        "z",
        Op::new(dirk::kernels::Add),
        vec![y.into(), x.into()],
    );
    let d = t(
        &mut g,
        "d",
        Op::new(dirk::kernels::Div),
        vec![1.0.into(), z.into()],
    );
    let e = t(
        &mut g,
        "e",
        Op::new(dirk::kernels::Sub),
        vec![d.into(), y.into()],
    );
    let s = t(&mut g, "s", Op::new(dirk::kernels::Sum), vec![e.into()]);
    let f = t(
        &mut g,
        "f",
        Op::new(dirk::kernels::Fill { dtype: DType::F32 }),
        vec![Arg::Shape(vec![1000]), 0.1.into()],
    );
    let fs = t(&mut g, "fs", Op::new(dirk::kernels::Sum), vec![f.into()]);
    let m = t(
        &mut g,
        "m",
        Op::new(dirk::kernels::Matmul),
        vec![x.into(), y.into()],
    );
    let ms = t(
        &mut g,
        "ms",
        Op::new(dirk::kernels::Mul),
        vec![m.into(), s.into()],
    );
    let i = t(
        &mut g,
        "i",
        Op::new(dirk::kernels::Rand {
            seed: 9,
            dtype: DType::I64,
        }),
        vec![Arg::Shape(vec![500])],
    );
    let i2 = t(
        &mut g,
        "i2",
        Op::new(dirk::kernels::Mul),
        vec![i.into(), 7.0.into()],
    );
    let outs = vec![s, fs, ms, i2, e];
    mark(&mut g, &outs);
    (g, outs)
}

/// The outputs of `mixed` computed here (s, fs, ms, i2, e), from the documented `rand`.
fn mixed_reference() -> Vec<Value> {
    let x: Vec<f64> = (0..100 * 100).map(|i| rand_f64(3, i)).collect();
    let y: Vec<f64> = x.iter().map(|v| v * 2.5).collect();
    let e: Vec<f64> = x.iter().zip(&y).map(|(&x, &y)| 1.0 / (y + x) - y).collect();
    let s = fixed_order_sum(&e);
    // f32 elements, summed as f64.
    let fs = fixed_order_sum(&[f64::from(0.1f32); 1000]);
    let mut ms = vec![0.0; 100 * 100];
    for i in 0..100 {
        for j in 0..100 {
            let m: f64 = (0..100).map(|p| x[i * 100 + p] * y[p * 100 + j]).sum();
            ms[i * 100 + j] = m * s;
        }
    }
    let i2: Vec<i64> = (0..500).map(|i| i64::from(rand_cell(9, i)) * 7).collect();
    vec![
        Value::Scalar(s),
        Value::Scalar(fs),
        Value::Array(Array::from_f64(vec![100, 100], ms)),
        Value::Array(Array::new(vec![500], Data::I64(i2))),
        Value::Array(Array::from_f64(vec![100, 100], e)),
    ]
}

/// Checks outputs of `mixed` against `mixed_reference`: exactly, but for the product (its
/// summation order is faer's), to 1e-12 relative.
fn assert_mixed_matches_reference(got: &[Value]) {
    let want = mixed_reference();
    for k in [0, 1, 3, 4] {
        assert!(got[k] == want[k], "output {k} differs from the reference");
    }
    close(&got[2..3], &want[2..3], 1e-12);
}

fn mark(g: &mut Graph, hs: &[Handle]) {
    for (i, h) in hs.iter().enumerate() {
        g.output(format!("o{i}"), *h).unwrap();
    }
}

fn outputs(r: &HashMap<u32, Arc<Value>>, hs: &[Handle]) -> Vec<Value> {
    hs.iter()
        .map(|h| (*r[&(h.index() as u32)]).clone())
        .collect()
}

#[test]
fn gpu_scoped_tasks_run_on_the_device_and_match_the_cpu() {
    let (cpu_g, cpu_h) = mixed(Scope::Device(DeviceClass::Cpu));
    let cpu = outputs(&run_in_process(&cpu_g, 1, 2).unwrap(), &cpu_h);
    let (g, h) = mixed(Scope::Device(DeviceClass::Gpu));
    let dev = host(64 << 20);
    let got = run_in_process_with_devices(&g, 2, vec![Some(Arc::clone(&dev))]).unwrap();
    assert_mixed_matches_reference(&outputs(&got, &h));
    assert_eq!(
        outputs(&got, &h),
        cpu,
        "device results equal CPU results bit for bit"
    );
    let st = dev.stats();
    assert_eq!(stat(&st.launches), 12, "every task ran on the device");
    assert_eq!(stat(&st.fallbacks), 0);
    // Everything was produced on the device and cached there: nothing was uploaded, and
    // every array input was a cache hit.
    assert_eq!(stat(&st.uploads), 0);
    assert_eq!(stat(&st.cache_hits), 12);
    // Results are written through: one download per array result.
    assert_eq!(stat(&st.downloads), 10);
    // Every device copy was dropped once its readers were done.
    assert_eq!(dev.memory().used(), 0);
}

#[test]
fn a_gpu_scope_without_any_gpu_is_a_plan_error() {
    let (g, _) = mixed(Scope::Device(DeviceClass::Gpu));
    let e = run_in_process(&g, 2, 1).unwrap_err().to_string();
    assert!(e.contains("no rank has a GPU"), "{e}");
    let mut g = Graph::new();
    let x = g
        .spawn(
            Op::new(dirk::kernels::Rand {
                seed: 1,
                dtype: DType::F64,
            }),
            [Arg::Shape(vec![4, 4])],
        )
        .unwrap();
    g.spawn_named(
        "t",
        Op::new(dirk::kernels::Transpose),
        vec![x.into()],
        Scope::Device(DeviceClass::Gpu),
    )
    .unwrap();
    let e = run_in_process_with_devices(&g, 1, vec![Some(host(1 << 20))])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has no GPU kernel") && e.contains("\"t\""),
        "{e}"
    );
}

#[test]
fn gpu_tasks_go_to_the_rank_with_the_device() {
    let (g, h) = mixed(Scope::Device(DeviceClass::Gpu));
    let (cpu_g, cpu_h) = mixed(Scope::Any);
    let cpu = outputs(&run_in_process(&cpu_g, 1, 1).unwrap(), &cpu_h);
    let dev = host(64 << 20);
    let got = run_in_process_with_devices(&g, 1, vec![None, Some(Arc::clone(&dev)), None]).unwrap();
    assert_mixed_matches_reference(&outputs(&got, &h));
    assert_eq!(outputs(&got, &h), cpu);
    assert_eq!(stat(&dev.stats().launches), 12, "all on rank 1's device");
}

/// Six 8000-byte arrays made on the device, then pairwise sums: 24000 bytes of device memory
/// hold one task's two inputs and output but not the cache of all six.
fn ring(scope: Scope) -> (Graph, Vec<Handle>) {
    let mut g = Graph::new();
    let xs: Vec<Handle> = (0..6)
        .map(|i| {
            g.spawn_named(
                format!("x{i}"),
                Op::new(dirk::kernels::Rand {
                    seed: i,
                    dtype: DType::F64,
                }),
                vec![Arg::Shape(vec![1000])],
                scope.clone(),
            )
            .unwrap()
        })
        .collect();
    let ys: Vec<Handle> = (0..6)
        .map(|i| {
            let (a, b) = (xs[i], xs[(i + 1) % 6]);
            let y = g
                .spawn_named(
                    format!("y{i}"),
                    Op::new(dirk::kernels::Add),
                    vec![a.into(), b.into()],
                    scope.clone(),
                )
                .unwrap();
            g.spawn_named(
                format!("s{i}"),
                Op::new(dirk::kernels::Sum),
                vec![y.into()],
                scope.clone(),
            )
            .unwrap()
        })
        .collect();
    mark(&mut g, &ys);
    (g, ys)
}

/// The sums of `ring` computed here: s_i = Σ (x_i + x_(i+1 mod 6)), x_i = rand(seed i, [1000]).
fn ring_reference() -> Vec<Value> {
    let x = |i: u64| (0..1000).map(move |k| rand_f64(i, k));
    (0..6)
        .map(|i| {
            let y: Vec<f64> = x(i).zip(x((i + 1) % 6)).map(|(a, b)| a + b).collect();
            Value::Scalar(fixed_order_sum(&y))
        })
        .collect()
}

#[test]
fn device_memory_runs_short_and_copies_are_evicted_not_lost() {
    let (cpu_g, cpu_h) = ring(Scope::Any);
    let cpu = outputs(&run_in_process(&cpu_g, 1, 1).unwrap(), &cpu_h);
    let (g, h) = ring(Scope::Device(DeviceClass::Gpu));
    let dev = host(24_000);
    let got = run_in_process_with_devices(&g, 1, vec![Some(Arc::clone(&dev))]).unwrap();
    assert_eq!(outputs(&got, &h), ring_reference());
    assert_eq!(outputs(&got, &h), cpu);
    let st = dev.stats();
    assert!(dev.memory().evictions() > 0, "the tiny device had to evict");
    assert_eq!(stat(&st.fallbacks), 0, "eviction made room every time");
    assert_eq!(stat(&st.launches), 18);
    assert!(
        stat(&st.uploads) > 0,
        "evicted inputs were staged again from the host"
    );
    assert_eq!(dev.memory().used(), 0);
}

#[test]
fn a_task_larger_than_the_device_runs_on_the_cpu() {
    let (cpu_g, cpu_h) = ring(Scope::Any);
    let cpu = outputs(&run_in_process(&cpu_g, 1, 1).unwrap(), &cpu_h);
    let (g, h) = ring(Scope::Device(DeviceClass::Gpu));
    // One array fits, an add's three do not. One thread: with two, a task's arrays can crowd
    // out another's and add a fallback.
    let dev = host(10_000);
    let got = run_in_process_with_devices(&g, 1, vec![Some(Arc::clone(&dev))]).unwrap();
    assert_eq!(outputs(&got, &h), ring_reference());
    assert_eq!(outputs(&got, &h), cpu);
    assert_eq!(
        stat(&dev.stats().fallbacks),
        6,
        "each add fell back to the CPU"
    );
    assert_eq!(dev.memory().used(), 0);
}

#[test]
fn integer_division_stays_on_the_cpu_and_still_reports_division_by_zero() {
    let mut g = Graph::new();
    let gpu = Scope::Device(DeviceClass::Gpu);
    let a = g
        .spawn_named(
            "a",
            Op::new(dirk::kernels::Fill { dtype: DType::I64 }),
            vec![Arg::Shape(vec![10]), 9.0.into()],
            gpu.clone(),
        )
        .unwrap();
    let q = g
        .spawn_named(
            "q",
            Op::new(dirk::kernels::Div),
            vec![a.into(), 2.0.into()],
            gpu.clone(),
        )
        .unwrap();
    let dev = host(1 << 20);
    let got = run_in_process_with_devices(&g, 1, vec![Some(Arc::clone(&dev))]).unwrap();
    let v = got[&(q.index() as u32)].as_array().unwrap().clone();
    assert_eq!(v.data(), &dirk::graph::Data::I64(vec![4; 10]));
    assert_eq!(stat(&dev.stats().fallbacks), 1);
    assert_eq!(stat(&dev.stats().launches), 1);
    let mut g = Graph::new();
    let a = g
        .spawn_named(
            "a",
            Op::new(dirk::kernels::Fill { dtype: DType::I64 }),
            vec![Arg::Shape(vec![10]), 9.0.into()],
            gpu.clone(),
        )
        .unwrap();
    // A literal zero divisor is refused when the graph is built; an array of zeros fails
    // only when the task runs.
    let zeros = g
        .spawn_named(
            "zeros",
            Op::new(dirk::kernels::Fill { dtype: DType::I64 }),
            vec![Arg::Shape(vec![10]), 0.0.into()],
            gpu.clone(),
        )
        .unwrap();
    g.spawn_named(
        "bad",
        Op::new(dirk::kernels::Div),
        vec![a.into(), zeros.into()],
        gpu,
    )
    .unwrap();
    let e = run_in_process_with_devices(&g, 1, vec![Some(host(1 << 20))])
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"bad\""), "{e}");
}

#[test]
fn large_unscoped_work_is_offloaded_and_matmul_never_is() {
    let mut g = Graph::new();
    let x = g
        .spawn(
            Op::new(dirk::kernels::Rand {
                seed: 5,
                dtype: DType::F64,
            }),
            [Arg::Shape(vec![1 << 20])],
        )
        .unwrap();
    let y = g
        .spawn(Op::new(dirk::kernels::Mul), [x.into(), 3.0.into()])
        .unwrap();
    let s = g.spawn(Op::new(dirk::kernels::Sum), [y.into()]).unwrap();
    let a = g
        .spawn(
            Op::new(dirk::kernels::Rand {
                seed: 6,
                dtype: DType::F64,
            }),
            [Arg::Shape(vec![8, 8])],
        )
        .unwrap();
    let m = g
        .spawn(Op::new(dirk::kernels::Matmul), [a.into(), a.into()])
        .unwrap();
    let outs = vec![s, m];
    mark(&mut g, &outs);
    let cpu = outputs(&run_in_process(&g, 1, 1).unwrap(), &outs);
    let dev = host(1 << 30);
    let got = run_in_process_with_devices(&g, 1, vec![Some(Arc::clone(&dev))]).unwrap();
    let got = outputs(&got, &outs);
    // The reference: Σ 3·x in dirk's fixed order, exactly; the 8×8 product to 1e-12.
    let y: Vec<f64> = (0..1 << 20).map(|i| rand_f64(5, i) * 3.0).collect();
    assert_eq!(got[0], Value::Scalar(fixed_order_sum(&y)));
    let a: Vec<f64> = (0..64).map(|i| rand_f64(6, i)).collect();
    let aa: Vec<f64> = (0..64)
        .map(|ij| (0..8).map(|p| a[ij / 8 * 8 + p] * a[p * 8 + ij % 8]).sum())
        .collect();
    close(
        &got[1..],
        &[Value::Array(Array::from_f64(vec![8, 8], aa))],
        1e-12,
    );
    assert_eq!(got, cpu);
    let st = dev.stats();
    assert!(stat(&st.launches) >= 1, "the 8 MiB rand went to the device");
    assert!(stat(&st.launches) <= 3, "matmul and tiny tasks did not");
    assert_eq!(stat(&st.fallbacks), 0);
}

/// The graph of a built-in workload (`spec` is its `workload` object).
fn workload(spec: serde_json::Value) -> Graph {
    let job = serde_json::json!({"dirk": 1, "workload": spec});
    dirk::job::from_str(&job.to_string(), "test", std::path::Path::new("."))
        .expect("a valid workload")
        .graph
}

/// The output tiles of a run, in output and part order.
fn tiles_of(g: &Graph, r: &HashMap<u32, Arc<Value>>) -> Vec<Value> {
    g.outputs()
        .iter()
        .flat_map(|o| o.parts.iter().map(|p| (*r[&p.task]).clone()))
        .collect()
}

/// The first output of `g` assembled from its tiles in the run's values `r` (u8 or f64).
fn assembled(g: &Graph, r: &HashMap<u32, Arc<Value>>) -> Value {
    fn put<T: Copy>(whole: &mut [T], w: usize, tile: &[T], tw: usize, at: &[usize]) {
        for (k, row) in tile.chunks(tw).enumerate() {
            let start = (at[0] + k) * w + at[1];
            whole[start..start + tw].copy_from_slice(row);
        }
    }
    let out = &g.outputs()[0];
    let ValueType::Array { dtype, shape } = &out.ty else {
        panic!("{} is not an array", out.name)
    };
    let n = shape.iter().product();
    let mut data = match dtype {
        DType::U8 => Data::U8(vec![0; n]),
        DType::F64 => Data::F64(vec![0.0; n]),
        other => panic!("{}: dtype {other:?}", out.name),
    };
    for part in &out.parts {
        let tile = r[&part.task].as_array().expect("an array tile");
        let tw = tile.shape()[1];
        match (&mut data, tile.data()) {
            (Data::U8(d), Data::U8(t)) => put(d, shape[1], t, tw, &part.offset),
            (Data::F64(d), Data::F64(t)) => put(d, shape[1], t, tw, &part.offset),
            _ => panic!("{}: a tile of another dtype", out.name),
        }
    }
    Value::Array(Array::new(shape.clone(), data))
}

/// The whole-grid result of a Life, heat or conv2d workload `spec` (seeded) computed by
/// `reference` from the documented seed-generated initial grid.
fn stencil_reference(spec: &serde_json::Value) -> Value {
    let num = |k: &str| spec[k].as_u64().unwrap() as usize;
    let dims = |k: &str| {
        (
            spec[k][0].as_u64().unwrap() as usize,
            spec[k][1].as_u64().unwrap() as usize,
        )
    };
    let seed = spec["seed"].as_u64().unwrap();
    let (shape, data) = match spec["kind"].as_str().unwrap() {
        "life" => {
            let (h, w) = dims("grid");
            let g0 = (0..h * w).map(|i| rand_cell(seed, i)).collect();
            let periodic = spec["boundary"] != "dead";
            ([h, w], Data::U8(life(g0, h, w, periodic, num("steps"))))
        }
        "heat" => {
            let (h, w) = dims("grid");
            let u0 = (0..h * w).map(|i| rand_f64(seed, i)).collect();
            let alpha = spec["alpha"].as_f64().unwrap_or(0.1);
            ([h, w], Data::F64(heat(u0, h, w, alpha, num("steps"))))
        }
        "conv2d" => {
            let (h, w) = dims("image");
            let img: Vec<f64> = (0..h * w).map(|i| rand_f64(seed, i)).collect();
            let rows = spec["kernel"].as_array().unwrap();
            let k: Vec<f64> = rows
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                .collect();
            let (kh, kw) = (rows.len(), k.len() / rows.len());
            ([h, w], Data::F64(conv2d(&img, h, w, &k, kh, kw)))
        }
        other => panic!("no reference for {other}"),
    };
    Value::Array(Array::new(shape.to_vec(), data))
}

/// Tasks of `g` with op `name`.
fn count_op(g: &Graph, name: &str) -> u64 {
    g.tasks().iter().filter(|t| t.op.name() == name).count() as u64
}

/// Life (both boundaries, periodic row strips, deep halos), heat and a 3×5 convolution, small
/// enough for a unit test, with every step task scoped to `device`.
fn stencil_specs(device: &str) -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!({"kind": "life", "grid": [48, 40], "tiles": [3, 2], "steps": 4,
               "boundary": "periodic", "seed": 1, "device": device}),
        json!({"kind": "life", "grid": [30, 33], "tiles": [2, 3], "steps": 3,
               "boundary": "dead", "seed": 2, "device": device}),
        // Periodic row strips: each tile is its own w and e side, its corners in the n and
        // s strips (`graph::stencil`).
        json!({"kind": "life", "grid": [36, 21], "tiles": [4, 1], "steps": 4,
               "boundary": "periodic", "seed": 7, "device": device}),
        // Deep halos: frames of ghost cells grown, kept with a stale ring and shrunk
        // (`graph::stencil::Frame`), 2-D and dead-edged.
        json!({"kind": "life", "grid": [40, 44], "tiles": [3, 2], "steps": 7,
               "boundary": "dead", "seed": 9, "halo": 3, "device": device}),
        json!({"kind": "heat", "grid": [40, 36], "tiles": [3, 2], "steps": 3,
               "alpha": 0.2, "seed": 3, "device": device}),
        json!({"kind": "conv2d", "image": [30, 28], "tiles": [2, 2], "seed": 4,
               "kernel": [[0.1, -0.2, 0.3, 0.05, 1.0], [0.7, 0.5, -1.5, 0.25, 0.125],
                          [0.3, 0.3, 0.3, -0.3, 2.0]], "device": device}),
    ]
}

#[test]
fn stencil_steps_on_the_device_match_the_cpu_bit_for_bit() {
    for (cpu_spec, gpu_spec) in stencil_specs("cpu").into_iter().zip(stencil_specs("gpu")) {
        let kind = cpu_spec["kind"].as_str().unwrap().to_string();
        let want = stencil_reference(&cpu_spec);
        let cpu_g = workload(cpu_spec);
        let cpu = tiles_of(&cpu_g, &run_in_process(&cpu_g, 2, 2).unwrap());
        let g = workload(gpu_spec);
        let dev = host(64 << 20);
        let got = run_in_process_with_devices(&g, 2, vec![Some(Arc::clone(&dev)), None]).unwrap();
        assert!(
            assembled(&g, &got) == want,
            "{kind}: the result differs from the reference"
        );
        assert_eq!(
            tiles_of(&g, &got),
            cpu,
            "{kind}: device tiles equal CPU tiles"
        );
        let steps = ["life_step", "heat_step", "conv2d"]
            .iter()
            .map(|op| count_op(&g, op))
            .sum::<u64>();
        assert!(steps > 0);
        let st = dev.stats();
        assert_eq!(
            stat(&st.launches),
            steps,
            "{kind}: every step on the device"
        );
        assert_eq!(stat(&st.fallbacks), 0, "{kind}");
        assert!(
            stat(&st.uploads) > 0,
            "{kind}: strips cut on the CPU were uploaded"
        );
        // Each distinct input of a step is staged once (uploaded or found on the device),
        // however often the step names it.
        let staged: u64 = g
            .tasks()
            .iter()
            .filter(|t| ["life_step", "heat_step", "conv2d"].contains(&t.op.name()))
            .map(|t| {
                let mut inputs: Vec<Handle> = t
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        Arg::Task(h) => Some(*h),
                        _ => None,
                    })
                    .collect();
                inputs.sort_by_key(|h| h.index());
                inputs.dedup();
                inputs.len() as u64
            })
            .sum();
        assert_eq!(
            stat(&st.uploads) + stat(&st.cache_hits),
            staged,
            "{kind}: inputs staged"
        );
        assert_eq!(dev.memory().used(), 0, "{kind}");
    }
}

#[test]
fn stencil_kernels_are_bit_identical_and_may_run_unscoped() {
    use dirk::device::{bit_identical, has_kernel, supports};
    let life = Op::new(dirk::kernels::LifeStep {
        normalize: false,
        frame: dirk::graph::stencil::Frame::PLAIN,
    });
    let heat = Op::new(dirk::kernels::HeatStep {
        alpha: 0.1,
        global: vec![4, 4],
        offset: vec![0, 0],
    });
    let conv = Op::new(dirk::kernels::Conv2d {
        kshape: [1, 1],
        kernel: vec![1.0],
    });
    for op in [&life, &heat, &conv] {
        assert!(has_kernel(op) && bit_identical(op), "{op}");
    }
    assert!(supports(&life, DType::U8) && !supports(&life, DType::F64));
    assert!(supports(&heat, DType::F64) && supports(&conv, DType::F64));
    for op in [
        Op::new(dirk::kernels::Potrf),
        Op::new(dirk::kernels::Trsm),
        Op::new(dirk::kernels::Syrk),
        Op::new(dirk::kernels::GemmNt),
    ] {
        assert!(has_kernel(&op) && !bit_identical(&op), "{op}: scoped only");
        assert!(supports(&op, DType::F64));
    }
    // Unscoped heat steps on 256×256 tiles (1 MiB in and out) are large enough for the
    // cost model to send some to the device; the result is the CPU's all the same.
    let spec = serde_json::json!({"kind": "heat", "grid": [512, 512], "tiles": [2, 2],
                                  "steps": 2, "seed": 6});
    let want = stencil_reference(&spec);
    let g = workload(spec);
    let cpu = tiles_of(&g, &run_in_process(&g, 1, 2).unwrap());
    let dev = host(1 << 30);
    let got = run_in_process_with_devices(&g, 2, vec![Some(Arc::clone(&dev))]).unwrap();
    assert!(
        assembled(&g, &got) == want,
        "the result differs from the reference"
    );
    assert_eq!(tiles_of(&g, &got), cpu);
    assert!(
        stat(&dev.stats().launches) >= 1,
        "some heat steps went to the device"
    );
    assert_eq!(stat(&dev.stats().fallbacks), 0);
}

#[test]
fn cholesky_tiles_scoped_to_the_gpu_reproduce_the_factor() {
    use serde_json::json;
    let spec = |device: &str| json!({"kind": "cholesky", "n": 40, "tile": 12, "seed": 5, "device": device});
    let cpu_g = workload(spec("cpu"));
    let cpu = tiles_of(&cpu_g, &run_in_process(&cpu_g, 2, 2).unwrap());
    let g = workload(spec("gpu"));
    let dev = host(64 << 20);
    let got = run_in_process_with_devices(&g, 2, vec![None, Some(Arc::clone(&dev))]).unwrap();
    // L·Lᵀ reproduces the documented seed-generated A; L is lower with a positive diagonal.
    let l = assembled(&g, &got);
    let l = l.as_array().unwrap().as_f64().unwrap();
    let rel = cholesky_residual(l, &seeded_spd(5, 40), 40);
    assert!(rel < 1e-12, "‖LLᵀ − A‖/‖A‖ = {rel}");
    assert_eq!(tiles_of(&g, &got), cpu);
    let kernels = ["potrf", "trsm", "syrk", "gemm_nt"]
        .iter()
        .map(|op| count_op(&g, op))
        .sum::<u64>();
    assert_eq!(
        stat(&dev.stats().launches),
        kernels,
        "every tile kernel on the device"
    );
    assert_eq!(stat(&dev.stats().fallbacks), 0);
    assert_eq!(dev.memory().used(), 0);
}

#[test]
fn a_bad_workload_device_is_an_error_at_its_json_path() {
    let job = r#"{"dirk": 1, "workload": {"kind": "life", "grid": [8, 8], "tiles": [1, 1],
        "steps": 1, "seed": 1, "device": "tpu"}}"#;
    let e = dirk::job::from_str(job, "bad", std::path::Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("workload.device") && e.contains("cpu or gpu"),
        "{e}"
    );
}

#[test]
fn gpus_auto_without_a_gpu_says_so_once_and_runs_on_cpu() {
    let dir = scratch();
    let out = dir.path().join("o.h5");
    let r = mpirun(2, &["run", "jobs/diamond.json", "--output", p(&out)], 60);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert_eq!(
        r.text.matches("no GPU found").count(),
        1,
        "one line from rank 0: {}",
        r.text
    );
    let r = mpirun(1, &["run", "jobs/diamond.json", "--gpus", "none"], 60);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(
        !r.text.contains("GPU"),
        "--gpus none says nothing: {}",
        r.text
    );
}

#[test]
fn gpu_jobs_exit_2_without_a_gpu() {
    if dirk::device::probe(0).ordinal.is_some() {
        println!("SKIPPED gpu_jobs_exit_2_without_a_gpu: this node has a GPU");
        return;
    }
    for job in [
        "jobs/gpu-sum.json",
        "jobs/gpu-gemm.json",
        "jobs/gpu-life.json",
    ] {
        let v = dirk(&["validate", job]);
        assert_eq!(v.code, Some(0), "{job} is a valid job: {}", v.text);
        let r = mpirun(2, &["run", job], 60);
        assert_eq!(r.code, Some(2), "{job}: {}", r.text);
        assert!(r.text.contains("no rank has a GPU"), "{job}: {}", r.text);
    }
}

#[test]
fn dirk_info_lists_what_each_rank_sees() {
    let r = mpirun(2, &["info"], 60);
    assert_eq!(r.code, Some(0), "{}", r.text);
    for rank in 0..2 {
        let line = r
            .text
            .lines()
            .find(|l| l.contains(&format!("rank {rank} (local")))
            .unwrap_or_else(|| panic!("a line for rank {rank}: {}", r.text));
        assert!(line.contains("GPUs visible:"), "{line}");
    }
}

/// On a GPU node: the real CUDA device gives the CPU's results (bit for bit, except the
/// cuBLAS product and the Cholesky tile kernels, to 1e-12 relative), for the elementwise
/// graph, Life, heat, conv2d and a tiled Cholesky, and each also agrees with its reference
/// (the Cholesky factor by its residual). Skipped with a message elsewhere.
#[test]
fn real_gpu_matches_the_cpu() {
    let (dev, probe) = dirk::device::select(true, 0);
    let Some(dev) = dev else {
        println!("SKIPPED real_gpu_matches_the_cpu: {}", probe.note);
        return;
    };
    let (cpu_g, cpu_h) = mixed(Scope::Device(DeviceClass::Cpu));
    let cpu = outputs(&run_in_process(&cpu_g, 1, 2).unwrap(), &cpu_h);
    let (g, h) = mixed(Scope::Device(DeviceClass::Gpu));
    let got = outputs(
        &run_in_process_with_devices(&g, 2, vec![Some(Arc::clone(&dev))]).unwrap(),
        &h,
    );
    assert_eq!(stat(&dev.stats().fallbacks), 0);
    assert_mixed_matches_reference(&got);
    // s, fs, i2, e: exact; ms (through cuBLAS): 1e-12 relative to the largest element.
    for k in [0, 1, 3, 4] {
        assert_eq!(got[k], cpu[k], "output {k}");
    }
    close(&got[2..3], &cpu[2..3], 1e-12);
    // Life, heat and conv2d steps: bit for bit, every step on the GPU.
    for (cpu_spec, gpu_spec) in stencil_specs("cpu").into_iter().zip(stencil_specs("gpu")) {
        let kind = cpu_spec["kind"].as_str().unwrap().to_string();
        let reference = stencil_reference(&cpu_spec);
        let cpu_g = workload(cpu_spec);
        let want = tiles_of(&cpu_g, &run_in_process(&cpu_g, 1, 2).unwrap());
        let g = workload(gpu_spec);
        let before = stat(&dev.stats().fallbacks);
        let r = run_in_process_with_devices(&g, 2, vec![Some(Arc::clone(&dev))]).unwrap();
        assert!(
            assembled(&g, &r) == reference,
            "{kind} on the GPU differs from the reference"
        );
        let got = tiles_of(&g, &r);
        assert_eq!(got, want, "{kind} on the GPU");
        assert_eq!(stat(&dev.stats().fallbacks), before, "{kind}");
    }
    // Cholesky through cuBLAS (and cuSOLVER where present): 1e-12 relative.
    let spec = |device: &str| serde_json::json!({"kind": "cholesky", "n": 200, "tile": 64, "seed": 5, "device": device});
    let cpu_g = workload(spec("cpu"));
    let want = tiles_of(&cpu_g, &run_in_process(&cpu_g, 1, 2).unwrap());
    let g = workload(spec("gpu"));
    let r = run_in_process_with_devices(&g, 2, vec![Some(Arc::clone(&dev))]).unwrap();
    let l = assembled(&g, &r);
    let rel = cholesky_residual(
        l.as_array().unwrap().as_f64().unwrap(),
        &seeded_spd(5, 200),
        200,
    );
    assert!(rel < 1e-12, "GPU: ‖LLᵀ − A‖/‖A‖ = {rel}");
    close(&tiles_of(&g, &r), &want, 1e-12);
}

/// Each array of `got` within `rel` of `want`, relative to the largest element of `want`.
fn close(got: &[Value], want: &[Value], rel: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let a = g.as_array().unwrap().as_f64().unwrap();
        let b = w.as_array().unwrap().as_f64().unwrap();
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= rel * scale, "{x} vs {y}");
        }
    }
}

//! Independent references for the tests, written from dirk's documented semantics with plain
//! loops over f64 and no dirk code:
//!
//! - a sequential evaluator for the basic ops (`evaluate`). Sums go left to right, which is
//!   dirk's fixed order for arrays shorter than its reduction chunk (8192 elements), so
//!   results must match bit for bit;
//! - dirk's `rand` contract re-derived (`rand_bits`, `rand_f64`, `rand_cell`) and its
//!   fixed-order sum (`fixed_order_sum`);
//! - the workloads over the whole grid: Life (`life`), heat (`heat`), the correlation
//!   (`conv2d`), the seed-generated SPD matrix (`seeded_spd`) and a check of a Cholesky
//!   factor (`cholesky_residual`).

use serde_json::Value as Json;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum V {
    S(f64),
    A(Vec<usize>, Vec<f64>),
}

fn operand<'a>(env: &'a HashMap<String, V>, a: &Json) -> std::borrow::Cow<'a, V> {
    match a {
        Json::String(id) => std::borrow::Cow::Borrowed(&env[id.as_str()]),
        Json::Number(n) => std::borrow::Cow::Owned(V::S(n.as_f64().unwrap())),
        other => panic!("unexpected operand {other}"),
    }
}

fn binary(op: &str, a: &V, b: &V) -> V {
    let f = |x: f64, y: f64| match op {
        "add" => x + y,
        "sub" => x - y,
        "mul" => x * y,
        "div" => x / y,
        _ => unreachable!(),
    };
    match (a, b) {
        (V::S(x), V::S(y)) => V::S(f(*x, *y)),
        (V::A(s, x), V::S(y)) => V::A(s.clone(), x.iter().map(|&p| f(p, *y)).collect()),
        (V::S(x), V::A(s, y)) => V::A(s.clone(), y.iter().map(|&q| f(*x, q)).collect()),
        (V::A(s, x), V::A(_, y)) => {
            V::A(s.clone(), x.iter().zip(y).map(|(&p, &q)| f(p, q)).collect())
        }
    }
}

/// Evaluates the tasks of a job (listed in dependency order) with f64 arrays.
/// `given` supplies values the evaluator does not compute itself (such as `rand` outputs).
pub(crate) fn evaluate(tasks: &[Json], given: &HashMap<String, V>) -> HashMap<String, V> {
    let mut env: HashMap<String, V> = given.clone();
    for t in tasks {
        let id = t["id"].as_str().unwrap().to_string();
        if env.contains_key(&id) {
            continue;
        }
        let args = t["args"].as_array().cloned().unwrap_or_default();
        let v = match t["op"].as_str().unwrap() {
            "fill" => {
                let shape: Vec<usize> = args[0]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect();
                let n = shape.iter().product();
                let x = operand(&env, &args[1]);
                let V::S(x) = *x else { panic!("fill value") };
                V::A(shape, vec![x; n])
            }
            op @ ("add" | "sub" | "mul" | "div") => {
                binary(op, &operand(&env, &args[0]), &operand(&env, &args[1]))
            }
            "sum" => match &*operand(&env, &args[0]) {
                V::A(_, x) => V::S(x.iter().fold(0.0, |s, &p| s + p)),
                V::S(_) => panic!("sum of a scalar"),
            },
            "busy" => operand(&env, &args[0]).into_owned(),
            "transpose" => match &*operand(&env, &args[0]) {
                V::A(s, x) => {
                    let (r, c) = (s[0], s[1]);
                    let mut out = vec![0.0; r * c];
                    for i in 0..r {
                        for j in 0..c {
                            out[j * r + i] = x[i * c + j];
                        }
                    }
                    V::A(vec![c, r], out)
                }
                V::S(_) => panic!("transpose of a scalar"),
            },
            "matmul" => match (&*operand(&env, &args[0]), &*operand(&env, &args[1])) {
                (V::A(sa, a), V::A(sb, b)) => {
                    let (m, k, n) = (sa[0], sa[1], sb[1]);
                    let mut c = vec![0.0; m * n];
                    for i in 0..m {
                        for j in 0..n {
                            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                        }
                    }
                    V::A(vec![m, n], c)
                }
                _ => panic!("matmul of scalars"),
            },
            other => panic!("the reference does not evaluate op {other}"),
        };
        env.insert(id, v);
    }
    env
}

impl V {
    pub(crate) fn flat(&self) -> Vec<f64> {
        match self {
            V::S(x) => vec![*x],
            V::A(_, v) => v.clone(),
        }
    }
}

/// dirk's `rand` contract, re-derived: element i of seed s is the SplitMix64 finalizer of
/// mix(s ^ c) + i·golden; floats take the top 53 bits, integers and Life cells the top bit.
pub(crate) fn rand_bits(seed: u64, i: u64) -> u64 {
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    mix(mix(seed ^ 0x6a09e667f3bcc908).wrapping_add(i.wrapping_mul(0x9e3779b97f4a7c15)))
}

/// Element `i` of an f64 `rand` (or `rand_tile`, by its global index) of `seed`: in [0, 1).
pub(crate) fn rand_f64(seed: u64, i: usize) -> f64 {
    (rand_bits(seed, i as u64) >> 11) as f64 / (1u64 << 53) as f64
}

/// Element `i` of an integer or u8 `rand` of `seed`: 0 or 1.
pub(crate) fn rand_cell(seed: u64, i: usize) -> u8 {
    (rand_bits(seed, i as u64) >> 63) as u8
}

/// dirk's documented order of `sum`: pieces of 8192 values, each summed left to right from
/// 0.0, then the piece sums left to right from 0.0.
pub(crate) fn fixed_order_sum(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for piece in x.chunks(8192) {
        let mut s = 0.0;
        for &v in piece {
            s += v;
        }
        total += s;
    }
    total
}

/// Sequential Game of Life, B3/S23, on an h×w grid (row-major, cells 0 or 1): a torus if
/// `periodic`, else cells outside the grid are dead.
pub(crate) fn life(mut g: Vec<u8>, h: usize, w: usize, periodic: bool, steps: usize) -> Vec<u8> {
    for _ in 0..steps {
        let mut next = vec![0u8; h * w];
        for i in 0..h {
            for j in 0..w {
                let mut n = 0;
                for di in [-1isize, 0, 1] {
                    for dj in [-1isize, 0, 1] {
                        if di == 0 && dj == 0 {
                            continue;
                        }
                        let (mut y, mut x) = (i as isize + di, j as isize + dj);
                        if periodic {
                            y = y.rem_euclid(h as isize);
                            x = x.rem_euclid(w as isize);
                        } else if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                            continue;
                        }
                        n += u32::from(g[y as usize * w + x as usize]);
                    }
                }
                let alive = g[i * w + j] == 1;
                next[i * w + j] = u8::from(n == 3 || (alive && n == 2));
            }
        }
        g = next;
    }
    g
}

/// `steps` explicit heat steps on an h×w grid: interior cells get
/// u + alpha·(N + S + E + W − 4u), evaluated left to right; the outer ring keeps its values.
pub(crate) fn heat(mut u: Vec<f64>, h: usize, w: usize, alpha: f64, steps: usize) -> Vec<f64> {
    for _ in 0..steps {
        let mut next = u.clone();
        for i in 1..h.saturating_sub(1) {
            for j in 1..w.saturating_sub(1) {
                let c = u[i * w + j];
                let lap =
                    u[(i - 1) * w + j] + u[(i + 1) * w + j] + u[i * w + j + 1] + u[i * w + j - 1]
                        - 4.0 * c;
                next[i * w + j] = c + alpha * lap;
            }
        }
        u = next;
    }
    u
}

/// The correlation of an h×w image with a kh×kw kernel (odd sides), zero outside the image:
/// out[i, j] = Σ_a Σ_b k[a, b]·img[i + a − kh/2, j + b − kw/2], from 0.0, `a` outer.
pub(crate) fn conv2d(img: &[f64], h: usize, w: usize, k: &[f64], kh: usize, kw: usize) -> Vec<f64> {
    let mut out = vec![0.0; h * w];
    for i in 0..h {
        for j in 0..w {
            let mut s = 0.0;
            for a in 0..kh {
                for b in 0..kw {
                    let y = (i + a) as isize - (kh / 2) as isize;
                    let x = (j + b) as isize - (kw / 2) as isize;
                    if y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w {
                        s += k[a * kw + b] * img[y as usize * w + x as usize];
                    }
                }
            }
            out[i * w + j] = s;
        }
    }
    out
}

/// The documented seed-generated SPD matrix of `cholesky`: (R + Rᵀ)/2 + n·I, R = rand(seed,
/// [n, n]), row-major.
pub(crate) fn seeded_spd(seed: u64, n: usize) -> Vec<f64> {
    let r = |i: usize, j: usize| rand_f64(seed, i * n + j);
    let mut a = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            a.push(0.5 * (r(i, j) + r(j, i)) + if i == j { n as f64 } else { 0.0 });
        }
    }
    a
}

/// Checks that `l` (n×n, row-major) is a Cholesky factor: zero above the diagonal, positive
/// on it; returns ‖L·Lᵀ − A‖_F / ‖A‖_F.
pub(crate) fn cholesky_residual(l: &[f64], a: &[f64], n: usize) -> f64 {
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for i in 0..n {
        assert!(
            l[i * n + i] > 0.0,
            "L[{i}][{i}] = {} is not positive",
            l[i * n + i]
        );
        for j in 0..n {
            if j > i {
                assert_eq!(l[i * n + j], 0.0, "L[{i}][{j}] above the diagonal");
            }
            let llt: f64 = (0..n).map(|p| l[i * n + p] * l[j * n + p]).sum();
            diff += (llt - a[i * n + j]).powi(2);
            norm += a[i * n + j].powi(2);
        }
    }
    (diff / norm).sqrt()
}

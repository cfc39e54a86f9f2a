//! An independent sequential evaluator for the basic ops, written for the tests: plain loops
//! over f64, no dirk code. Sums go left to right, which is dirk's fixed order for arrays
//! shorter than its reduction chunk (8192 elements), so results must match bit for bit.

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

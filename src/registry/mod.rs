//! The kernel table: every op a job file or `Graph::spawn_kernel` can name, built-ins and an
//! application's own kernels alike, one `Kernel` record each.
//!
//! A process has one table (`global`): an application installs its own with `install` (as
//! `crate::main_with` does) before anything is planned; otherwise it is
//! `Registry::with_builtins()`. Job loading looks names up here once per task; a task then
//! holds its op (`graph::Op`: an `Arc` to the record and the parsed params), so running it
//! never looks anything up by name. The built-ins are records like any other: each is
//! defined in its own file under `kernels/` (`Builtin`, `define.rs`) and registered in one
//! line of `builtins.rs`; the workload generators' tiled ops are in the table too, though
//! job files cannot name them (`Kernel::in_jobs`). Every rank must hold the same table:
//! `Registry::fingerprint` is what they compare.
//!
//! ```
//! use dirk::registry::Registry;
//! use dirk::DType;
//! #[derive(serde::Deserialize)]
//! struct Scale { factor: f64 }
//! let reg = Registry::with_builtins().kernel("myapp::scale", |k| {
//!     k.params::<Scale>()
//!         .args("[a]", 1)
//!         .dtypes(&[DType::F64])
//!         .cpu(|inputs, p| Ok(inputs.view::<f64>(0)?.mapv(|x| x * p.factor)))
//! });
//! assert!(reg.get("myapp::scale").is_some());
//! ```

mod builder;
mod builtins;
mod define;
mod kernel;
mod plugin;
mod sha256;

pub use builder::{BoxError, Element, Inputs, IntoValue, KernelBuilder, NoParams};
pub use define::{native, Builtin};
pub use kernel::{CostArgs, Gpu, Kernel, Signature};
pub use plugin::{load as load_plugin, loaded as loaded_plugins, ABI_VERSION};
pub use sha256::hex as sha256_hex;

use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use xxhash_rust::xxh3::Xxh3;

/// Kernels by name.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    kernels: BTreeMap<&'static str, Arc<Kernel>>,
    /// Names in registration order, for listing.
    order: Vec<&'static str>,
}

impl Registry {
    /// A table with no kernel at all.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// The kernels every build has, under their bare names (`add`, `rand`, ...).
    pub fn with_builtins() -> Registry {
        let mut r = Registry::empty();
        for k in builtins::all() {
            r.insert(k);
        }
        r
    }

    fn insert(&mut self, k: Arc<Kernel>) {
        let name = k.name();
        assert!(
            !self.kernels.contains_key(name),
            "kernel {name} is registered twice"
        );
        self.order.push(name);
        self.kernels.insert(name, k);
    }

    /// Registers an application kernel named `namespace::name`; `build` describes it on a
    /// `KernelBuilder` (params type, arguments, shape rule, CPU function, cost hint).
    ///
    /// Panics (a program error, found the first time the program starts) on a bad or taken
    /// name, or a builder without a CPU function.
    pub fn kernel<P, F>(mut self, name: &str, build: F) -> Registry
    where
        P: DeserializeOwned + Send + Sync + 'static,
        F: FnOnce(KernelBuilder<NoParams>) -> KernelBuilder<P>,
    {
        if let Some(why) = name_problem(name) {
            panic!("kernel name {name:?}: {why}");
        }
        let b = build(KernelBuilder::new(name));
        let Some((sig, fns)) = b.finish() else {
            panic!("kernel {name}: no CPU function (call .cpu(...))");
        };
        self.insert(Arc::new(Kernel::user(name, sig, fns)));
        self
    }

    /// The kernel named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Kernel>> {
        self.kernels.get(name).cloned()
    }

    /// Every kernel, in registration order.
    pub fn kernels(&self) -> impl Iterator<Item = &Arc<Kernel>> + '_ {
        self.order.iter().map(|n| &self.kernels[n])
    }

    /// Every name a job file may use, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.kernels()
            .filter(|k| k.in_jobs())
            .map(|k| k.name())
            .collect()
    }

    /// Every kernel as (name, what identifies it: origin and signature), in name order:
    /// what ranks compare at start-up (`difference`).
    pub fn describe(&self) -> Vec<(String, String)> {
        self.kernels
            .iter()
            .map(|(name, k)| {
                let s = k.signature();
                let id = format!(
                    "{} {} arity {:?} dtypes {:?}",
                    k.origin(),
                    s.args,
                    s.arity,
                    s.dtypes
                );
                (name.to_string(), id)
            })
            .collect()
    }

    /// A hash of `describe`: ranks that run one job must agree on it, and a checkpoint's
    /// fingerprint includes it.
    pub fn fingerprint(&self) -> u64 {
        let mut h = Xxh3::new();
        for (name, id) in self.describe() {
            h.update(format!("{name}|{id}\n").as_bytes());
        }
        h.digest()
    }
}

/// The first way rank `rank`'s table (`mine`) differs from rank 0's (`root`), both from
/// `Registry::describe`, as a sentence naming the rank and the kernel; `None` when equal.
pub fn difference(
    root: &[(String, String)],
    mine: &[(String, String)],
    rank: u32,
) -> Option<String> {
    let find =
        |t: &[(String, String)], n: &str| t.iter().find(|(k, _)| k == n).map(|(_, d)| d.clone());
    for (name, id) in root {
        match find(mine, name) {
            None => {
                return Some(format!(
                    "kernel {name} is not registered on rank {rank} (rank 0 has it)"
                ))
            }
            Some(other) if &other != id => {
                return Some(format!(
                    "kernel {name} differs: rank 0 has {id}, rank {rank} has {other}"
                ))
            }
            Some(_) => {}
        }
    }
    mine.iter()
        .find(|(name, _)| find(root, name).is_none())
        .map(|(name, _)| format!("kernel {name} is registered on rank {rank} but not on rank 0"))
}

/// Why `name` cannot name an application kernel: it must be `namespace::name`, each part
/// letters, digits and `_`.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let parts: Vec<&str> = name.split("::").collect();
    if parts.len() < 2 {
        return Some("an application kernel is named namespace::name (bare names are dirk's)");
    }
    let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if parts.iter().all(|p| ok(p)) {
        None
    } else {
        Some("use letters, digits and _ between the ::")
    }
}

/// The kernel named `name` in the process's table or a loaded plugin that a job file may
/// name: what job loading and `Graph::spawn_kernel` look names up in.
pub fn lookup(name: &str) -> Option<Arc<Kernel>> {
    find(name).filter(|k| k.in_jobs())
}

/// Any kernel named `name` (the generators' tiled ops included): what plan and steal
/// message decoding look names up in.
pub fn find(name: &str) -> Option<Arc<Kernel>> {
    global().get(name).or_else(|| plugin::find(name))
}

/// `Registry::describe` of the process's table and every loaded plugin's kernels (with the
/// plugin's file and SHA-256), in name order: what the ranks compare at start-up.
pub fn describe_all() -> Vec<(String, String)> {
    let mut all = Registry::empty();
    for k in global().kernels().chain(plugin::kernels().iter()) {
        all.order.push(k.name());
        all.kernels.insert(k.name(), Arc::clone(k));
    }
    all.describe()
}

/// A hash of `describe_all`: part of a checkpoint's fingerprint.
pub fn table_fingerprint() -> u64 {
    let mut h = Xxh3::new();
    for (name, id) in describe_all() {
        h.update(format!("{name}|{id}\n").as_bytes());
    }
    h.digest()
}

pub(crate) use plugin::set_rank;

static GLOBAL: OnceLock<Registry> = OnceLock::new();

/// The process's kernel table: the one `install`ed, else the built-ins.
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(Registry::with_builtins)
}

/// Makes `r` the process's kernel table; gives it back when a table is already in use
/// (installed, or the built-ins taken by an earlier `global()`).
pub fn install(r: Registry) -> Result<(), Registry> {
    GLOBAL.set(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{ArgType, DType, Value, ValueType};
    use crate::kernels::Input;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Scale {
        factor: f64,
    }

    fn table() -> Registry {
        Registry::with_builtins().kernel("t::scale", |k| {
            k.params::<Scale>()
                .args("[a]", 1)
                .dtypes(&[DType::F64])
                .cpu(|i, p| Ok(i.view::<f64>(0)?.mapv(|x| x * p.factor)))
        })
    }

    #[test]
    fn builtins_keep_their_bare_names() {
        let r = Registry::with_builtins();
        for n in [
            "rand", "fill", "load", "add", "sub", "mul", "div", "sum", "matmul",
        ] {
            assert!(r.get(n).expect(n).is_builtin());
        }
        assert_eq!(r.names().len(), 11);
    }

    #[test]
    fn a_user_kernel_types_and_runs_against_a_sequential_loop() {
        let r = table();
        let k = r.get("t::scale").unwrap();
        let call = k.call(&serde_json::json!({"factor": 2.5})).unwrap();
        let ty = ValueType::Array {
            dtype: DType::F64,
            shape: vec![2, 3],
        };
        assert_eq!(call.infer(&[ArgType::Value(&ty)]).unwrap(), ty);
        let input: Vec<f64> = (0..6).map(|i| i as f64 * 0.75).collect();
        let a = Value::Array(crate::graph::Array::from_f64(vec![2, 3], input.clone()));
        let out = call.run(&[Input::Value(&a)]).unwrap();
        let want: Vec<f64> = input.iter().map(|x| x * 2.5).collect();
        assert_eq!(out.as_array().unwrap().as_f64().unwrap(), &want[..]);
    }

    #[test]
    fn bad_arity_dtype_and_params_are_refused() {
        let r = table();
        let k = r.get("t::scale").unwrap();
        assert!(k
            .call(&serde_json::json!({"factr": 2}))
            .unwrap_err()
            .contains("factr"));
        let call = k.call(&serde_json::json!({"factor": 2})).unwrap();
        let e = call.infer(&[]).unwrap_err();
        assert!(e.contains("takes 1 argument"), "{e}");
        let u8s = ValueType::Array {
            dtype: DType::U8,
            shape: vec![2],
        };
        let e = call.infer(&[ArgType::Value(&u8s)]).unwrap_err();
        assert!(e.contains("accepts f64"), "{e}");
    }

    #[test]
    fn a_panic_and_an_error_name_the_kernel() {
        let r = Registry::empty()
            .kernel("t::boom", |k| {
                k.cpu(|_, _| -> Result<f64, BoxError> { panic!("kaput") })
            })
            .kernel("t::fail", |k| {
                k.cpu(|_, _| -> Result<f64, BoxError> { Err("no good".into()) })
            });
        let run = |n: &str| {
            r.get(n)
                .unwrap()
                .call(&serde_json::json!({}))
                .unwrap()
                .run(&[])
                .unwrap_err()
                .0
        };
        assert_eq!(run("t::boom"), "kernel t::boom panicked: kaput");
        assert_eq!(run("t::fail"), "kernel t::fail: no good");
    }

    #[test]
    fn names_need_a_namespace_and_the_fingerprint_sees_signatures() {
        assert!(name_problem("scale").is_some());
        assert!(name_problem("a::").is_some());
        assert!(name_problem("my-app::x").is_some());
        assert!(name_problem("myapp::heat5").is_none());
        let a = table().fingerprint();
        assert_eq!(a, table().fingerprint());
        assert_ne!(a, Registry::with_builtins().fingerprint());
    }

    #[test]
    fn difference_names_the_kernel_and_the_rank() {
        let root = table().describe();
        assert_eq!(difference(&root, &root, 3), None);
        let bare = Registry::with_builtins().describe();
        let e = difference(&root, &bare, 2).unwrap();
        assert_eq!(
            e,
            "kernel t::scale is not registered on rank 2 (rank 0 has it)"
        );
        let e = difference(&bare, &root, 1).unwrap();
        assert!(
            e.contains("t::scale is registered on rank 1 but not on rank 0"),
            "{e}"
        );
        let other = Registry::with_builtins()
            .kernel("t::scale", |k| k.args("[a, b]", 2).cpu(|_, _| Ok(0.0)));
        let e = difference(&root, &other.describe(), 4).unwrap();
        assert!(e.starts_with("kernel t::scale differs: rank 0 has"), "{e}");
        assert!(e.contains("rank 4 has"), "{e}");
    }
}

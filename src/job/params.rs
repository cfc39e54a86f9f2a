//! Typed access to a JSON object of named parameters (`params`, `workload`, `options`), with
//! errors that name the JSON path, and a final check that no unknown key was given.

use super::error::JobError;
use crate::graph::DType;
use serde_json::{Map, Value};

/// A JSON object being read field by field; `finish` rejects keys nobody asked for.
pub struct Params<'a> {
    map: &'a Map<String, Value>,
    path: String,
    task: Option<String>,
    known: Vec<&'static str>,
}

impl<'a> Params<'a> {
    /// Wraps `map`, found at JSON path `path`.
    pub fn new(map: &'a Map<String, Value>, path: impl Into<String>) -> Params<'a> {
        Params {
            map,
            path: path.into(),
            task: None,
            known: Vec::new(),
        }
    }

    /// Names the task these parameters belong to in every error.
    pub fn for_task(mut self, id: &str) -> Params<'a> {
        self.task = Some(id.to_string());
        self
    }

    fn err_at(&self, at: String, msg: impl Into<String>) -> JobError {
        match &self.task {
            Some(t) => JobError::in_task(at, t, msg),
            None => JobError::new(at, msg),
        }
    }

    /// The JSON path of key `key`.
    pub fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An error about key `key`.
    pub fn error(&self, key: &str, msg: impl Into<String>) -> JobError {
        self.err_at(self.at(key), msg)
    }

    /// A non-negative integer, or `default` when absent.
    pub fn u64_or(&mut self, key: &'static str, default: u64) -> Result<u64, JobError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_u64().ok_or_else(|| {
                self.error(key, format!("expected a non-negative integer, got {v}"))
            }),
        }
    }

    /// A required non-negative integer.
    pub fn u64(&mut self, key: &'static str) -> Result<u64, JobError> {
        match self.get(key) {
            None => Err(self.error(key, "missing (a non-negative integer)")),
            Some(v) => v.as_u64().ok_or_else(|| {
                self.error(key, format!("expected a non-negative integer, got {v}"))
            }),
        }
    }

    /// A required positive integer that fits in usize.
    pub fn positive(&mut self, key: &'static str) -> Result<usize, JobError> {
        let v = self.u64(key)?;
        if v == 0 {
            return Err(self.error(key, "must be at least 1"));
        }
        usize::try_from(v).map_err(|_| self.error(key, "too large"))
    }

    /// A number, or `default` when absent.
    pub fn f64_or(&mut self, key: &'static str, default: f64) -> Result<f64, JobError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| self.error(key, format!("expected a number, got {v}"))),
        }
    }

    /// A string, if present.
    pub fn str_opt(&mut self, key: &'static str) -> Result<Option<&'a str>, JobError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.error(key, format!("expected a string, got {v}"))),
        }
    }

    /// A required string.
    pub fn str(&mut self, key: &'static str) -> Result<&'a str, JobError> {
        self.str_opt(key)?
            .ok_or_else(|| self.error(key, "missing (a string)"))
    }

    /// A boolean, if present.
    pub fn bool_opt(&mut self, key: &'static str) -> Result<Option<bool>, JobError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.error(key, format!("expected true or false, got {v}"))),
        }
    }

    /// A dtype name, or f64 when absent.
    pub fn dtype(&mut self) -> Result<DType, JobError> {
        match self.str_opt("dtype")? {
            None => Ok(DType::F64),
            Some(s) => DType::parse(s).ok_or_else(|| {
                self.error("dtype", format!("unknown dtype {s:?} (f64, f32, i64, u8)"))
            }),
        }
    }

    /// A list of positive integers of length `n` (such as `grid: [H, W]`).
    pub fn dims(&mut self, key: &'static str, n: usize) -> Result<Vec<usize>, JobError> {
        let Some(v) = self.get(key) else {
            return Err(self.error(key, format!("missing (a list of {n} positive integers)")));
        };
        let bad = || {
            self.error(
                key,
                format!("expected a list of {n} positive integers, got {v}"),
            )
        };
        let list = v.as_array().ok_or_else(bad)?;
        if list.len() != n {
            return Err(bad());
        }
        list.iter()
            .map(|x| {
                x.as_u64()
                    .filter(|&x| x > 0)
                    .map(|x| x as usize)
                    .ok_or_else(bad)
            })
            .collect()
    }

    /// The raw JSON value of `key`, if present.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.get(key)
    }

    /// Fails on the first key that no accessor asked for.
    pub fn finish(self) -> Result<(), JobError> {
        for k in self.map.keys() {
            if !self.known.contains(&k.as_str()) {
                let mut known = self.known.clone();
                known.sort_unstable();
                known.dedup();
                let expected = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                return Err(self.err_at(self.at(k), format!("unknown key (expected: {expected})")));
            }
        }
        Ok(())
    }
}

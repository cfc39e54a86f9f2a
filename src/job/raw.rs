//! Stage one of loading a job: JSON text to a raw job that has the right shape.
//!
//! This stage checks only structure (types of fields, required keys); names, references,
//! cycles and shapes are checked in `build`, once the whole job is known.

use super::error::JobError;
use super::json::JsonError;
use crate::graph::{DeviceClass, Scope};
use serde_json::{Map, Value};

/// A job file whose shape is right.
#[derive(Debug)]
pub(super) struct RawJob {
    /// Optional name.
    pub name: Option<String>,
    /// Explicit tasks or a workload generator.
    pub body: RawBody,
    /// Ids written to `--output`, with their JSON paths.
    pub outputs: Option<Vec<(String, String)>>,
    /// `options`: defaults for run flags.
    pub options: Map<String, Value>,
    /// `plugins`: kernel libraries to load before the tasks are read.
    pub plugins: Vec<RawPlugin>,
}

/// One entry of `plugins`.
#[derive(Debug)]
pub(super) struct RawPlugin {
    /// The library's path, relative to the job file's folder unless absolute.
    pub path: String,
    /// The SHA-256 the file must have (hex).
    pub sha256: String,
    /// Its JSON path (`plugins[0]`).
    pub at: String,
}

/// What the job computes.
#[derive(Debug)]
pub(super) enum RawBody {
    /// An explicit graph.
    Tasks(Vec<RawTask>),
    /// A built-in generator: `kind` and its parameters.
    Workload(Map<String, Value>),
}

/// A task whose fields have the right JSON types.
#[derive(Debug, PartialEq)]
pub(super) struct RawTask {
    /// Its place in `tasks`.
    pub index: usize,
    /// The id.
    pub id: String,
    /// The op name.
    pub op: String,
    /// Positional arguments.
    pub args: Vec<RawArg>,
    /// Named parameters.
    pub params: Map<String, Value>,
    /// Placement.
    pub scope: Scope,
}

/// A positional argument before ids are resolved.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RawArg {
    /// A task id.
    Ref(String),
    /// A number literal.
    Number(f64),
    /// A shape literal.
    Shape(Vec<usize>),
}

impl RawTask {
    /// Its JSON path, `tasks[i]`.
    pub(super) fn path(&self) -> String {
        format!("tasks[{}]", self.index)
    }
}

/// Parses a job file's text. `origin` names the file in messages.
pub(super) fn parse(text: &str, origin: &str) -> Result<RawJob, JobError> {
    // The direct route for a well-formed job; the general one finds and words any error.
    if let Some((mut top, tasks)) = super::direct::parse(text) {
        top.insert("tasks".into(), Value::Array(Vec::new()));
        if let Ok(job) = shape(top, Some(tasks), origin) {
            return Ok(job);
        }
    }
    parse_general(text, origin)
}

/// Parses a job file's text through a `Value` tree.
pub(super) fn parse_general(text: &str, origin: &str) -> Result<RawJob, JobError> {
    let v: Value = super::json::parse(text).map_err(|e| match e {
        JsonError::Syntax(e) => JobError::new(
            origin,
            format!(
                "not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        ),
        JsonError::Duplicate { path } => JobError::new(
            path,
            "this key is given twice in one object (JSON would keep only the last): remove one",
        ),
    })?;
    let Value::Object(top) = v else {
        return Err(JobError::new(origin, "a job file is a JSON object"));
    };
    shape(top, None, origin)
}

/// Checks the top-level object's shape; `tasks`, when given, were read already (and `top`
/// holds an empty list in their place).
fn shape(
    top: Map<String, Value>,
    tasks: Option<Vec<RawTask>>,
    origin: &str,
) -> Result<RawJob, JobError> {
    match top.get("dirk") {
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => {
            return Err(JobError::new(
                "dirk",
                format!("unsupported format version {v}; this dirk reads format 1"),
            ))
        }
        None => {
            return Err(JobError::new(
                "dirk",
                "missing: a job file starts with \"dirk\": 1 (the format version)",
            ))
        }
    }
    for k in top.keys() {
        if ![
            "dirk", "name", "tasks", "workload", "outputs", "options", "plugins",
        ]
        .contains(&k.as_str())
        {
            return Err(JobError::new(
                k.as_str(),
                "unknown key (expected: dirk, name, tasks, workload, outputs, options, plugins)",
            ));
        }
    }
    let name = match top.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.contains('\0') => {
            return Err(JobError::new(
                "name",
                "contains a NUL character, which the output file's attributes cannot hold",
            ))
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(JobError::new("name", format!("expected a string, got {v}"))),
    };
    let body = match (top.get("tasks"), top.get("workload")) {
        (Some(_), Some(_)) => {
            return Err(JobError::new(
                "tasks",
                "give either \"tasks\" or \"workload\", not both",
            ))
        }
        (None, None) => {
            return Err(JobError::new(
                origin,
                "the job has neither \"tasks\" nor \"workload\"",
            ))
        }
        (Some(Value::Array(ts)), None) => RawBody::Tasks(match tasks {
            Some(tasks) => tasks,
            None => ts
                .iter()
                .enumerate()
                .map(|(i, t)| parse_task(i, t))
                .collect::<Result<_, _>>()?,
        }),
        (Some(v), None) => {
            return Err(JobError::new(
                "tasks",
                format!("expected a list of tasks, got {}", kind_of(v)),
            ))
        }
        (None, Some(Value::Object(w))) => RawBody::Workload(w.clone()),
        (None, Some(v)) => {
            return Err(JobError::new(
                "workload",
                format!("expected an object with a \"kind\", got {}", kind_of(v)),
            ))
        }
    };
    let outputs = match top.get("outputs") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .map(|s| (s.to_string(), format!("outputs[{i}]")))
                        .ok_or_else(|| {
                            JobError::new(
                                format!("outputs[{i}]"),
                                format!("expected a task id, got {v}"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(v) => {
            return Err(JobError::new(
                "outputs",
                format!("expected a list of ids, got {}", kind_of(v)),
            ))
        }
    };
    let options = match top.get("options") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(v) => {
            return Err(JobError::new(
                "options",
                format!("expected an object, got {}", kind_of(v)),
            ))
        }
    };
    let plugins = raw_plugins(top.get("plugins"))?;
    Ok(RawJob {
        name,
        body,
        outputs,
        options,
        plugins,
    })
}

/// `plugins`: a list of `{"path": ..., "sha256": ...}`.
fn raw_plugins(v: Option<&Value>) -> Result<Vec<RawPlugin>, JobError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(l)) => l,
        Some(v) => {
            return Err(JobError::new(
                "plugins",
                format!(
                    "expected a list of {{\"path\", \"sha256\"}}, got {}",
                    kind_of(v)
                ),
            ))
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let at = format!("plugins[{i}]");
            let field = |k: &str| match p.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(JobError::new(
                    format!("{at}.{k}"),
                    "missing: a plugin is {\"path\": FILE, \"sha256\": HEX}",
                )),
            };
            if let Some(Value::Object(o)) = Some(p) {
                if let Some(k) = o.keys().find(|k| !["path", "sha256"].contains(&k.as_str())) {
                    return Err(JobError::new(
                        format!("{at}.{k}"),
                        "unknown key (expected: path, sha256)",
                    ));
                }
            }
            Ok(RawPlugin {
                path: field("path")?,
                sha256: field("sha256")?,
                at,
            })
        })
        .collect()
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_task(index: usize, v: &Value) -> Result<RawTask, JobError> {
    let path = format!("tasks[{index}]");
    let Value::Object(t) = v else {
        return Err(JobError::new(
            path,
            format!("expected a task object, got {}", kind_of(v)),
        ));
    };
    let id = match t.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(JobError::new(
                format!("{path}.id"),
                format!("expected a string, got {v}"),
            ))
        }
        None => return Err(JobError::new(format!("{path}.id"), "missing")),
    };
    // From here on, messages name the task id too, so a reader can find the task by either.
    let at = |field: &str| format!("{path}.{field}");
    let err = |field: &str, msg: String| JobError::in_task(at(field), &id, msg);
    for k in t.keys() {
        if !["id", "op", "args", "params", "scope"].contains(&k.as_str()) {
            return Err(err(
                k,
                "unknown key (expected: id, op, args, params, scope)".into(),
            ));
        }
    }
    let op = match t.get("op") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(JobError::new(
                at("op"),
                format!("expected a string, got {v}"),
            ))
        }
        None => return Err(JobError::new(at("op"), "missing (a kernel name)")),
    };
    let args = match t.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(j, a)| parse_arg(a).map_err(|m| err(&format!("args[{j}]"), m)))
            .collect::<Result<_, _>>()?,
        Some(v) => {
            return Err(JobError::new(
                at("args"),
                format!("expected a list, got {}", kind_of(v)),
            ))
        }
    };
    let params = match t.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(v) => {
            return Err(JobError::new(
                at("params"),
                format!("expected an object, got {}", kind_of(v)),
            ))
        }
    };
    let scope = match t.get("scope") {
        None | Some(Value::Null) => Scope::Any,
        Some(s) => parse_scope(s).map_err(|m| err("scope", m))?,
    };
    Ok(RawTask {
        index,
        id,
        op,
        args,
        params,
        scope,
    })
}

fn parse_arg(a: &Value) -> Result<RawArg, String> {
    match a {
        Value::String(s) => Ok(RawArg::Ref(s.clone())),
        Value::Number(n) => n
            .as_f64()
            .map(RawArg::Number)
            .ok_or_else(|| format!("number {n} is out of range")),
        Value::Array(dims) => dims
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<Vec<usize>>>()
            .map(RawArg::Shape)
            .ok_or_else(|| format!("a shape is a list of non-negative integers, got {a}")),
        v => Err(format!(
            "expected a task id, a number or a shape, got {}",
            kind_of(v)
        )),
    }
}

pub(super) fn parse_scope(s: &Value) -> Result<Scope, String> {
    const HELP: &str =
        "a scope is {\"rank\": R}, {\"ranks\": [R, ...]}, {\"device\": \"cpu\"} or {\"device\": \"gpu\"}";
    let Value::Object(m) = s else {
        return Err(HELP.into());
    };
    if m.len() != 1 {
        return Err(HELP.into());
    }
    let (k, v) = m.iter().next().expect("one entry");
    let rank = |v: &Value| {
        v.as_u64()
            .and_then(|r| u32::try_from(r).ok())
            .ok_or_else(|| format!("a rank is a non-negative integer, got {v}"))
    };
    match k.as_str() {
        "rank" => Ok(Scope::Rank(rank(v)?)),
        "ranks" => {
            let list = v.as_array().ok_or_else(|| HELP.to_string())?;
            if list.is_empty() {
                return Err("\"ranks\" is empty: no rank could run the task".into());
            }
            Ok(Scope::Ranks(
                list.iter().map(rank).collect::<Result<_, _>>()?,
            ))
        }
        "device" => match v.as_str() {
            Some("cpu") => Ok(Scope::Device(DeviceClass::Cpu)),
            Some("gpu") => Ok(Scope::Device(DeviceClass::Gpu)),
            _ => Err(format!("unknown device {v} (cpu or gpu)")),
        },
        _ => Err(HELP.into()),
    }
}

//! The direct route from job-file text to raw tasks: one pass of serde_json's tokenizer that
//! builds each task's `RawTask` as it is read, with no `Value` tree in between (a 100,000-task
//! job would otherwise allocate a map, its keys and its values for every task, then copy them
//! out again). Everything outside `tasks` is read as `Value`s through `json`'s visitor.
//!
//! It answers only for a job file that is well formed in every respect it looks at: JSON, no
//! duplicate key, `tasks` a list of task objects whose fields have the right types. On
//! anything else it gives up (`None`) and the caller reads the text again the general way,
//! which finds the error and words it; so every error message is the general route's, and a
//! job this route accepts yields exactly the `RawTask`s the general route would.

use super::json;
use super::raw::{parse_scope, RawArg, RawTask};
use crate::graph::Scope;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The top-level object without `tasks`, and the tasks; `None` when the text is not a
/// well-formed job with a `tasks` list (the general route then says why).
pub(super) fn parse(text: &str) -> Option<(Map<String, Value>, Vec<RawTask>)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let (top, tasks) = Top.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some((top, tasks?))
}

/// Gives up: the general route reads the text again and finds what is wrong.
fn give_up<E: de::Error>() -> E {
    E::custom("not on the direct route")
}

struct Top;

impl<'de> DeserializeSeed<'de> for Top {
    type Value = (Map<String, Value>, Option<Vec<RawTask>>);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top {
    type Value = (Map<String, Value>, Option<Vec<RawTask>>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a job object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = Map::new();
        let mut tasks = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "tasks" {
                if tasks.is_some() {
                    return Err(give_up());
                }
                tasks = Some(map.next_value_seed(Tasks)?);
            } else {
                let v = map.next_value_seed(json::Seed::default())?;
                if top.insert(key, v).is_some() {
                    return Err(give_up());
                }
            }
        }
        Ok((top, tasks))
    }
}

struct Tasks;

impl<'de> DeserializeSeed<'de> for Tasks {
    type Value = Vec<RawTask>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Tasks {
    type Value = Vec<RawTask>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of tasks")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut tasks = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(t) = seq.next_element_seed(Task(tasks.len()))? {
            tasks.push(t);
        }
        Ok(tasks)
    }
}

/// A task object's key, read without allocating.
enum Field {
    Id,
    Op,
    Args,
    Params,
    Scope,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a task key")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> Result<Field, E> {
                Ok(match k {
                    "id" => Field::Id,
                    "op" => Field::Op,
                    "args" => Field::Args,
                    "params" => Field::Params,
                    "scope" => Field::Scope,
                    _ => return Err(give_up()),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Task `tasks[.0]`.
struct Task(usize);

impl<'de> DeserializeSeed<'de> for Task {
    type Value = RawTask;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawTask, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Task {
    type Value = RawTask;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a task object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTask, A::Error> {
        let (mut id, mut op, mut args, mut params, mut scope) = (None, None, None, None, None);
        // A key given twice gives up (the general route names it).
        fn once<T, E: de::Error>(slot: &mut Option<T>, v: T) -> Result<(), E> {
            match slot.replace(v) {
                None => Ok(()),
                Some(_) => Err(give_up()),
            }
        }
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Id => once(&mut id, map.next_value::<String>()?)?,
                Field::Op => once(&mut op, map.next_value::<String>()?)?,
                Field::Args => once(&mut args, map.next_value_seed(Args)?)?,
                Field::Params => once(&mut params, map.next_value_seed(json::Seed::default())?)?,
                Field::Scope => once(&mut scope, map.next_value_seed(json::Seed::default())?)?,
            }
        }
        let params = match params {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Err(give_up()),
        };
        let scope = match scope {
            None | Some(Value::Null) => Scope::Any,
            Some(s) => parse_scope(&s).map_err(|_| give_up())?,
        };
        Ok(RawTask {
            index: self.0,
            id: id.ok_or_else(give_up)?,
            op: op.ok_or_else(give_up)?,
            args: args.unwrap_or_default(),
            params,
            scope,
        })
    }
}

/// `args`: a list, or null for none.
struct Args;

impl<'de> DeserializeSeed<'de> for Args {
    type Value = Vec<RawArg>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Args {
    type Value = Vec<RawArg>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of arguments")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut args = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
        while let Some(a) = seq.next_element_seed(Arg)? {
            args.push(a);
        }
        Ok(args)
    }
}

/// One argument: a task id, a number, or a shape (non-negative integers).
struct Arg;

impl<'de> DeserializeSeed<'de> for Arg {
    type Value = RawArg;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawArg, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Arg {
    type Value = RawArg;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an argument")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawArg, E> {
        Ok(RawArg::Ref(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RawArg, E> {
        Ok(RawArg::Ref(v))
    }

    // The general route's `Number::as_f64`: an integer converts with `as`.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawArg, E> {
        Ok(RawArg::Number(v as f64))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawArg, E> {
        Ok(RawArg::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawArg, E> {
        // serde_json yields finite numbers only; the general route would make anything else
        // `null` and refuse it.
        if v.is_finite() {
            Ok(RawArg::Number(v))
        } else {
            Err(give_up())
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawArg, A::Error> {
        let mut dims = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(8));
        while let Some(d) = seq.next_element_seed(Dim)? {
            dims.push(d);
        }
        Ok(RawArg::Shape(dims))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<RawArg, A::Error> {
        Err(give_up())
    }
}

/// One dimension of a shape: a non-negative integer that fits a `usize`.
struct Dim;

impl<'de> DeserializeSeed<'de> for Dim {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for Dim {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a dimension")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
        usize::try_from(v).map_err(|_| give_up())
    }
}

#[cfg(test)]
mod tests {
    use super::super::raw;
    use super::*;

    /// The direct route's tasks against the general route's, field by field.
    fn same_as_general(text: &str) {
        let (_, direct) = parse(text).unwrap_or_else(|| panic!("direct route gave up: {text}"));
        let general = raw::parse_general(text, "t").unwrap();
        let raw::RawBody::Tasks(general) = general.body else {
            panic!("not tasks")
        };
        assert_eq!(direct, general, "{text}");
    }

    #[test]
    fn tasks_read_directly_equal_the_general_route() {
        same_as_general(
            r#"{"dirk": 1, "name": "n", "options": {"threads": 2}, "tasks": [
            {"id": "x", "op": "fill", "args": [[3, 0], -1.5e3], "params": {"dtype": "i64"}},
            {"op": "add", "id": "a\u0041", "args": ["x", 7, -2, 18446744073709551615]},
            {"id": "b", "op": "load", "args": null, "params": null, "scope": {"rank": 1}},
            {"id": "c", "op": "sum", "args": ["x"], "scope": {"ranks": [0, 1]}},
            {"id": "d", "op": "sum", "args": [], "scope": {"device": "gpu"}},
            {"id": "e", "op": "x::y", "scope": null}]}"#,
        );
    }

    #[test]
    fn anything_unusual_goes_the_general_way() {
        for text in [
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "id": "b"}]}"#,
            r#"{"dirk": 1, "tasks": [], "tasks": []}"#,
            r#"{"dirk": 1, "dirk": 1, "tasks": []}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "extra": 1}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a"}]}"#,
            r#"{"dirk": 1, "tasks": [{"op": "add"}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": 3, "op": "add"}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "args": [true]}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "args": [[1.5]]}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "args": [[-1]]}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "args": [{"in": "x"}]}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "args": "x"}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "params": []}]}"#,
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "add", "scope": {"rank": -1}}]}"#,
            r#"{"dirk": 1, "tasks": [1]}"#,
            r#"{"dirk": 1, "tasks": {}}"#,
            r#"{"dirk": 1, "workload": {"kind": "life"}}"#,
            r#"{"dirk": 1, "tasks": []} x"#,
            r#"[]"#,
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}

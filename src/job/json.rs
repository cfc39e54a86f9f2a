//! Job-file JSON: serde_json's `Value`, built by a visitor of our own that refuses a key given
//! twice in one object. serde_json keeps the last one silently, so `{"seed": 1, "seed": 2}`
//! would run with a seed its author may not have meant; here it is bad input naming the JSON
//! path. The visitor builds the same `Value` serde_json's would, in one pass (measured once by
//! hand, 2026-12-07, on a loaded machine: a generated 100,000-task job of 9 MB parsed in
//! about 210 ms either way, best of 10; no benchmark in the repository repeats it); the path
//! is put together only on the way out of an error.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

/// Why job-file text is not a job's JSON.
#[derive(Debug)]
pub(super) enum JsonError {
    /// Not JSON (serde_json's error, with line and column).
    Syntax(serde_json::Error),
    /// A key given twice in one object, at this JSON path.
    Duplicate {
        /// `tasks[2].params.seed`.
        path: String,
    },
}

/// Parses `text` as one JSON value, refusing duplicate keys.
pub(super) fn parse(text: &str) -> Result<Value, JsonError> {
    let state = RefCell::new(Trail::default());
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Node(&state)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| {
        let t = state.into_inner();
        if t.duplicate {
            JsonError::Duplicate { path: t.path() }
        } else {
            JsonError::Syntax(e)
        }
    })
}

/// One JSON value, read as `parse` reads a whole text (a duplicate key is an error), for a
/// deserializer that reads the rest itself.
#[derive(Default)]
pub(super) struct Seed(RefCell<Trail>);

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Node(&self.0).deserialize(d)
    }
}

/// Where an error happened: the path's steps, innermost first, pushed while it unwinds.
#[derive(Default)]
struct Trail {
    duplicate: bool,
    steps: Vec<Step>,
}

enum Step {
    Key(String),
    Index(usize),
}

impl Trail {
    fn path(&self) -> String {
        let mut s = String::new();
        for step in self.steps.iter().rev() {
            match step {
                Step::Key(k) if s.is_empty() => s.push_str(k),
                Step::Key(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                Step::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }
}

/// One JSON value being read.
struct Node<'s>(&'s RefCell<Trail>);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            match seq.next_element_seed(Node(self.0)) {
                Ok(Some(v)) => list.push(v),
                Ok(None) => return Ok(Value::Array(list)),
                Err(e) => {
                    self.0.borrow_mut().steps.push(Step::Index(list.len()));
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match map.next_value_seed(Node(self.0)) {
                Ok(v) => v,
                Err(e) => {
                    self.0.borrow_mut().steps.push(Step::Key(key));
                    return Err(e);
                }
            };
            match m.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    let mut t = self.0.borrow_mut();
                    t.duplicate = true;
                    t.steps.push(Step::Key(slot.key().clone()));
                    return Err(de::Error::custom("duplicate key"));
                }
            }
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_as_serde_json() {
        let text = r#"{"dirk": 1, "tasks": [{"id": "a", "args": [[3, 4], -1, 2.5e300, null, true]}],
            "name": "x\u0000y", "o": {}}"#;
        let ours = parse(text).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_duplicate_key_names_its_path() {
        let dup = |t: &str| match parse(t) {
            Err(JsonError::Duplicate { path }) => path,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(dup(r#"{"dirk": 1, "dirk": 1}"#), "dirk");
        assert_eq!(
            dup(r#"{"tasks": [{}, {"id": "b", "params": {"seed": 1, "seed": 2}}]}"#),
            "tasks[1].params.seed"
        );
        assert!(matches!(parse("{\"a\": 1,}"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse("{} x"), Err(JsonError::Syntax(_))));
        assert!(matches!(
            parse(&"[".repeat(100_000)),
            Err(JsonError::Syntax(_))
        ));
    }
}

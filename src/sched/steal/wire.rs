//! The stealing protocol's messages as they travel (postcard, as opaque control messages of
//! the `Transport`), and a stolen task as the thief holds it. A value is borrowed from the
//! sender's `Arc` while it is encoded and owned once decoded; a slot a task reads twice
//! travels once (`WireArg::Again`).

use crate::graph::{Array, Data, Op, Value};
use crate::kernels::Input;
use crate::plan::LocalArg;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;

/// A control message of the stealing protocol.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Msg<'a> {
    /// "Send me work for `want` idle threads"; `load` is the asker's queued work.
    Request { want: u32, load: u64 },
    /// The victim's answer; `load` is its ready queue's length after.
    Reply { load: u64, tasks: Vec<WireTask<'a>> },
    /// A stolen task's result, for its owner. `run_ns`: time it ran.
    Result {
        task: u32,
        run_ns: u64,
        value: WireValue<'a>,
    },
    /// "Nothing of mine can be handed over any more": the peer stops asking this rank.
    NoMore,
    /// "My share is done."
    OwnDone,
    /// "I will send nothing more but replies."
    Fin,
}

impl Msg<'_> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("steal messages encode")
    }

    pub(crate) fn decode(bytes: &[u8]) -> Msg<'static> {
        postcard::from_bytes(bytes).expect("steal messages decode")
    }
}

/// A task as it travels to a thief.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireTask<'a> {
    /// The owner's local task index.
    pub task: u32,
    /// Its global index (the key of its result).
    pub key: u32,
    pub id: String,
    pub op: Op,
    pub args: Vec<WireArg<'a>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireArg<'a> {
    Value(WireValue<'a>),
    Number(f64),
    Shape(Vec<usize>),
    /// The value of argument k, an earlier one, again: a slot read twice (a stencil tile
    /// that is its own neighbour) travels once.
    Again(u32),
}

impl<'a> WireArg<'a> {
    /// A task's arguments as they travel: `vals[i]` holds the value of each slot argument.
    /// A slot read again travels as `Again`.
    pub(crate) fn of_task(args: &[LocalArg], vals: &'a [Option<Arc<Value>>]) -> Vec<WireArg<'a>> {
        args.iter()
            .zip(vals)
            .enumerate()
            .map(|(i, (a, v))| match (a, v) {
                (LocalArg::Slot(_), Some(v)) => match LocalArg::earlier(args, i) {
                    Some(k) => WireArg::Again(k as u32),
                    None => WireArg::Value(WireValue::of(v)),
                },
                (LocalArg::Number(x), _) => WireArg::Number(*x),
                (LocalArg::Shape(s), _) => WireArg::Shape(s.clone()),
                (LocalArg::Slot(_), None) => unreachable!("slot args hold values"),
            })
            .collect()
    }
}

/// A value on the wire, borrowed when sent and owned when received.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireValue<'a> {
    Scalar(f64),
    F64(Vec<usize>, Cow<'a, [f64]>),
    F32(Vec<usize>, Cow<'a, [f32]>),
    I64(Vec<usize>, Cow<'a, [i64]>),
    U8(Vec<usize>, Cow<'a, [u8]>),
}

impl<'a> WireValue<'a> {
    pub(crate) fn of(v: &'a Value) -> WireValue<'a> {
        match v {
            Value::Scalar(x) => WireValue::Scalar(*x),
            Value::Array(a) => {
                let s = a.shape().to_vec();
                match a.data() {
                    Data::F64(d) => WireValue::F64(s, Cow::Borrowed(d)),
                    Data::F32(d) => WireValue::F32(s, Cow::Borrowed(d)),
                    Data::I64(d) => WireValue::I64(s, Cow::Borrowed(d)),
                    Data::U8(d) => WireValue::U8(s, Cow::Borrowed(d)),
                }
            }
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            WireValue::Scalar(x) => Value::Scalar(x),
            WireValue::F64(s, d) => Value::Array(Array::new(s, Data::F64(d.into_owned()))),
            WireValue::F32(s, d) => Value::Array(Array::new(s, Data::F32(d.into_owned()))),
            WireValue::I64(s, d) => Value::Array(Array::new(s, Data::I64(d.into_owned()))),
            WireValue::U8(s, d) => Value::Array(Array::new(s, Data::U8(d.into_owned()))),
        }
    }
}

/// An argument of a stolen task, owned by the thief.
pub(crate) enum StolenArg {
    Value(Value),
    Number(f64),
    Shape(Vec<usize>),
    /// The value of argument k (earlier) again.
    Again(u32),
}

/// A task a thief holds for its owner.
pub(crate) struct Stolen {
    pub from: u32,
    pub task: u32,
    pub key: u32,
    pub id: String,
    pub op: Op,
    pub args: Vec<StolenArg>,
    pub in_bytes: usize,
}

impl Stolen {
    pub(crate) fn from_wire(from: u32, w: WireTask<'_>) -> Stolen {
        let mut in_bytes = 0;
        let args = w
            .args
            .into_iter()
            .map(|a| match a {
                WireArg::Value(v) => {
                    let v = v.into_value();
                    in_bytes += v.bytes();
                    StolenArg::Value(v)
                }
                WireArg::Number(x) => StolenArg::Number(x),
                WireArg::Shape(s) => StolenArg::Shape(s),
                WireArg::Again(k) => StolenArg::Again(k),
            })
            .collect();
        Stolen {
            from,
            task: w.task,
            key: w.key,
            id: w.id,
            op: w.op,
            args,
            in_bytes,
        }
    }

    /// The kernel's argument `i`: an `Again` reads the argument it names.
    pub(crate) fn input(&self, i: usize) -> Input<'_> {
        match &self.args[i] {
            StolenArg::Value(v) => Input::Value(v),
            StolenArg::Number(x) => Input::Number(*x),
            StolenArg::Shape(v) => Input::Shape(v),
            StolenArg::Again(k) => {
                let k = *k as usize;
                assert!(k < i, "an Again argument names an earlier one");
                self.input(k)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_read_twice_travels_once() {
        let tile = Arc::new(Value::Array(Array::new(
            vec![64, 64],
            Data::U8(vec![7; 4096]),
        )));
        let strip = Arc::new(Value::Array(Array::new(vec![1, 64], Data::U8(vec![1; 64]))));
        let args = [
            LocalArg::Slot(3),
            LocalArg::Slot(4),
            LocalArg::Number(2.5),
            LocalArg::Slot(3),
            LocalArg::Slot(4),
        ];
        let vals = [
            Some(tile.clone()),
            Some(strip.clone()),
            None,
            Some(tile.clone()),
            Some(strip),
        ];
        let task = WireTask {
            task: 1,
            key: 9,
            id: "life.1.0_0".into(),
            op: Op::new(crate::kernels::LifeStep {
                normalize: false,
                frame: crate::graph::stencil::Frame::PLAIN,
            }),
            args: WireArg::of_task(&args, &vals),
        };
        assert!(matches!(task.args[3], WireArg::Again(0)));
        assert!(matches!(task.args[4], WireArg::Again(1)));
        let bytes = postcard::to_allocvec(&task).unwrap();
        assert!(
            bytes.len() < 4096 + 200,
            "the tile once: {} bytes",
            bytes.len()
        );
        let got = Stolen::from_wire(0, postcard::from_bytes(&bytes).unwrap());
        assert_eq!(got.in_bytes, 4096 + 64);
        let value = |i: usize| match got.input(i) {
            Input::Value(v) => v.clone(),
            _ => panic!("args[{i}] should be a value"),
        };
        assert_eq!(value(3), *tile);
        assert_eq!(value(0), *tile);
        assert!(matches!(got.input(2), Input::Number(x) if x == 2.5));
        assert_eq!(value(4), value(1));
    }

    #[test]
    fn values_round_trip_the_wire() {
        let vals = [
            Value::Scalar(2.5),
            Value::Array(Array::new(
                vec![2, 2],
                Data::F64(vec![1.0, -0.0, 3.5, f64::NAN]),
            )),
            Value::Array(Array::new(vec![3], Data::U8(vec![0, 1, 255]))),
            Value::Array(Array::new(vec![1, 2], Data::I64(vec![-7, 9]))),
            Value::Array(Array::new(vec![2], Data::F32(vec![1.5, -2.0]))),
        ];
        for v in &vals {
            let m = Msg::Result {
                task: 3,
                run_ns: 2,
                value: WireValue::of(v),
            };
            let back = Msg::decode(&m.encode());
            let Msg::Result { value, task: 3, .. } = back else {
                panic!("wrong message")
            };
            let back = value.into_value();
            assert_eq!(format!("{back:?}"), format!("{v:?}"));
        }
    }
}

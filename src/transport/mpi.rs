//! The MPI backend: one progress thread per rank owns all point-to-point traffic.
//!
//! Worker threads never touch MPI: `send` pushes the value on a queue and wakes the progress
//! thread. The progress thread loop (MPI standard §3.7 nonblocking communication, §3.8
//! matched probe):
//!
//! 1. posts `MPI_Isend` for each queued value, straight from the array's own buffer (no copy;
//!    the `Arc` keeps it alive until the request completes);
//! 2. matches incoming messages with `MPI_Improbe` (any source, any tag; the tag is the
//!    value's key), allocates a buffer of exactly the expected type and posts `MPI_Imrecv`
//!    into it (no copy on this side either);
//! 3. tests its pending requests, hands completed receives to the scheduler's inbox and drops
//!    completed sends;
//! 4. spins briefly when idle, then parks (waking a parked thread costs ~30 µs on this VM; a
//!    send wakes it at once).
//!
//! It exits when asked to close, the queue is empty, every send has completed and every
//! expected value has arrived. Keys are task indices, so tags stay below 2^31-1, Open MPI's
//! and MPICH's `MPI_TAG_UB`.

use super::{Inbox, TransferStats, Transport};
use crate::graph::{Array, DType, Data, Value, ValueType};
use mpi::ffi;
use mpi::raw::AsRaw;
use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Sends posted to MPI at once; the rest wait in the progress thread's backlog.
const MAX_IN_FLIGHT: usize = 128;

struct Outgoing {
    dest: u32,
    key: u32,
    value: Arc<Value>,
}

/// State shared by the senders (worker threads) and the progress thread.
struct Shared {
    queue: Mutex<Vec<Outgoing>>,
    closing: AtomicBool,
    progress: Mutex<Option<Thread>>,
    stats: Arc<TransferStats>,
}

impl Shared {
    fn wake(&self) {
        if let Some(t) = self.progress.lock().expect("progress lock").as_ref() {
            t.unpark();
        }
    }
}

/// The sending side handed to the scheduler.
pub struct MpiSender {
    shared: Arc<Shared>,
}

impl Transport for MpiSender {
    fn send(&self, dest: u32, key: u32, value: Arc<Value>) {
        self.shared.stats.queued();
        self.shared
            .queue
            .lock()
            .expect("send queue lock")
            .push(Outgoing { dest, key, value });
        self.shared.wake();
    }
}

/// A raw communicator handle that may move to the progress thread.
struct RawComm(ffi::MPI_Comm);
// SAFETY: an MPI communicator handle is an opaque value valid in every thread of the process
// when MPI runs with MPI_THREAD_MULTIPLE, which `runtime` requires before starting a transport.
unsafe impl Send for RawComm {}

/// The progress thread, until `finish`.
pub struct Progress {
    shared: Arc<Shared>,
    handle: JoinHandle<()>,
}

/// Makes the sender; start the progress thread with `start` once the inbox exists.
pub fn sender(stats: Arc<TransferStats>) -> MpiSender {
    MpiSender {
        shared: Arc::new(Shared {
            queue: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            progress: Mutex::new(None),
            stats,
        }),
    }
}

/// Starts the progress thread of `sender` on `comm`, delivering to `inbox` until `expected`
/// values have arrived. `comm` must outlive the returned `Progress`.
pub fn start<C: AsRaw<Raw = ffi::MPI_Comm>>(
    sender: &MpiSender,
    comm: &C,
    inbox: Arc<dyn Inbox>,
    expected: usize,
) -> Progress {
    let shared = Arc::clone(&sender.shared);
    let raw = RawComm(comm.as_raw());
    let s = Arc::clone(&shared);
    let handle = thread::Builder::new()
        .name("dirk-progress".into())
        .spawn(move || {
            let raw = raw;
            progress_loop(&s, raw.0, inbox.as_ref(), expected)
        })
        .expect("spawn the progress thread");
    *shared.progress.lock().expect("progress lock") = Some(handle.thread().clone());
    Progress { shared, handle }
}

impl Progress {
    /// Waits until every queued send has completed and every expected value has arrived.
    pub fn finish(self) {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake();
        if self.handle.join().is_err() {
            panic!("the MPI progress thread panicked");
        }
    }
}

/// A receive buffer of exactly the expected type; filled by MPI, then turned into a value.
enum RecvBuf {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
}

struct PendingRecv {
    key: u32,
    ty: ValueType,
    buf: RecvBuf,
}

/// A send in flight: the value stays alive until its request completes.
struct PendingSend {
    _value: Arc<Value>,
}

fn datatype(d: DType) -> ffi::MPI_Datatype {
    // SAFETY: the RSMPI_* handles are constants that MPI_Init set up; reading them is a plain
    // load of an initialised extern static.
    unsafe {
        match d {
            DType::F64 => ffi::RSMPI_DOUBLE,
            DType::F32 => ffi::RSMPI_FLOAT,
            DType::I64 => ffi::RSMPI_INT64_T,
            DType::U8 => ffi::RSMPI_UINT8_T,
        }
    }
}

fn count(n: usize) -> c_int {
    c_int::try_from(n).expect("arrays above 2^31 elements are not supported by one MPI message")
}

/// Pointer, element count and MPI type of a value's payload.
fn payload(v: &Value) -> (*const c_void, c_int, ffi::MPI_Datatype) {
    match v {
        Value::Scalar(x) => (x as *const f64 as *const c_void, 1, datatype(DType::F64)),
        Value::Array(a) => {
            let dt = datatype(a.dtype());
            match a.data() {
                Data::F64(v) => (v.as_ptr() as *const c_void, count(v.len()), dt),
                Data::F32(v) => (v.as_ptr() as *const c_void, count(v.len()), dt),
                Data::I64(v) => (v.as_ptr() as *const c_void, count(v.len()), dt),
                Data::U8(v) => (v.as_ptr() as *const c_void, count(v.len()), dt),
            }
        }
    }
}

fn progress_loop(shared: &Shared, comm: ffi::MPI_Comm, inbox: &dyn Inbox, expected: usize) {
    // Requests and what they keep alive, in two parallel lists each (MPI_Testsome wants a
    // plain array of requests).
    let mut backlog: std::collections::VecDeque<Outgoing> = std::collections::VecDeque::new();
    let mut send_reqs: Vec<ffi::MPI_Request> = Vec::new();
    let mut sends: Vec<PendingSend> = Vec::new();
    let mut recv_reqs: Vec<ffi::MPI_Request> = Vec::new();
    let mut recvs: Vec<PendingRecv> = Vec::new();
    let mut matched = 0usize;
    let mut received = 0usize;
    let mut idle_since: Option<Instant> = None;
    loop {
        let mut active = false;
        // 1. Post queued sends, at most MAX_IN_FLIGHT at a time: MPI_Testsome walks its whole
        //    list, so an unbounded list makes many small sends quadratic.
        if backlog.is_empty() {
            backlog = std::mem::take(&mut *shared.queue.lock().expect("send queue lock")).into();
        } else {
            backlog.extend(shared.queue.lock().expect("send queue lock").drain(..));
        }
        while send_reqs.len() < MAX_IN_FLIGHT {
            let Some(o) = backlog.pop_front() else { break };
            active = true;
            let (ptr, n, dt) = payload(&o.value);
            // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
            let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
            // SAFETY: `ptr` points to `n` elements of type `dt` owned by `o.value`, which is
            // kept alive in `sends` until MPI_Test reports the request complete; MPI only reads
            // the buffer. `comm` is a valid communicator (see `RawComm`).
            let rc = unsafe {
                ffi::MPI_Isend(
                    ptr,
                    n,
                    dt,
                    o.dest as c_int,
                    o.key as c_int,
                    comm,
                    &mut request,
                )
            };
            assert_eq!(rc, 0, "MPI_Isend failed");
            shared.stats.sent(o.value.bytes());
            send_reqs.push(request);
            sends.push(PendingSend { _value: o.value });
        }
        // 2. Match incoming messages and post their receives.
        while matched < expected {
            let mut flag: c_int = 0;
            // SAFETY: MPI_MESSAGE_NULL is an initialised extern static; the zeroed status is
            // a plain C struct that MPI fills in.
            let mut message = unsafe { ffi::RSMPI_MESSAGE_NULL };
            let mut status: ffi::MPI_Status = unsafe { std::mem::zeroed() };
            // SAFETY: all pointers refer to live locals; `comm` is valid.
            let rc = unsafe {
                ffi::MPI_Improbe(
                    ffi::RSMPI_ANY_SOURCE,
                    ffi::RSMPI_ANY_TAG,
                    comm,
                    &mut flag,
                    &mut message,
                    &mut status,
                )
            };
            assert_eq!(rc, 0, "MPI_Improbe failed");
            if flag == 0 {
                break;
            }
            active = true;
            matched += 1;
            let key = status.MPI_TAG as u32;
            let ty = inbox.expected(key).unwrap_or_else(|| {
                panic!(
                    "received a value nobody expects (key {key} from rank {})",
                    status.MPI_SOURCE
                )
            });
            let n = ty.len();
            let mut buf = match ty.dtype() {
                DType::F64 => RecvBuf::F64(Vec::with_capacity(n)),
                DType::F32 => RecvBuf::F32(Vec::with_capacity(n)),
                DType::I64 => RecvBuf::I64(Vec::with_capacity(n)),
                DType::U8 => RecvBuf::U8(Vec::with_capacity(n)),
            };
            let ptr = match &mut buf {
                RecvBuf::F64(v) => v.as_mut_ptr() as *mut c_void,
                RecvBuf::F32(v) => v.as_mut_ptr() as *mut c_void,
                RecvBuf::I64(v) => v.as_mut_ptr() as *mut c_void,
                RecvBuf::U8(v) => v.as_mut_ptr() as *mut c_void,
            };
            let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
            // SAFETY: `ptr` has capacity for `n` elements of the matching MPI type; the Vec is
            // moved into `recvs` (moving a Vec does not move its heap buffer) and not touched
            // until the request completes. `message` came from MPI_Improbe above.
            let rc = unsafe {
                ffi::MPI_Imrecv(
                    ptr,
                    count(n),
                    datatype(ty.dtype()),
                    &mut message,
                    &mut request,
                )
            };
            assert_eq!(rc, 0, "MPI_Imrecv failed");
            recv_reqs.push(request);
            recvs.push(PendingRecv { key, ty, buf });
        }
        // 3. Complete requests: one MPI_Testsome per list, so a long list costs one call.
        for i in completed(&mut send_reqs) {
            send_reqs.swap_remove(i);
            sends.swap_remove(i);
            active = true;
        }
        for i in completed(&mut recv_reqs) {
            recv_reqs.swap_remove(i);
            let r = recvs.swap_remove(i);
            received += 1;
            active = true;
            let value = finish_recv(r.buf, &r.ty);
            let bytes = value.bytes();
            inbox.deliver(r.key, value);
            // Counted once delivered, so a checkpoint that sees every message received also
            // sees every value in its slot.
            shared.stats.received(bytes);
        }
        if shared.closing.load(Ordering::Acquire)
            && sends.is_empty()
            && backlog.is_empty()
            && received == expected
            && shared.queue.lock().expect("send queue lock").is_empty()
        {
            return;
        }
        // 4. Back off when idle.
        if active {
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert_with(Instant::now);
        let idle = since.elapsed();
        if idle < Duration::from_micros(20) {
            std::hint::spin_loop();
        } else if idle < Duration::from_micros(200) {
            thread::yield_now();
        } else {
            thread::park_timeout(Duration::from_micros(
                if recvs.is_empty() && matched == expected {
                    2_000
                } else {
                    50
                },
            ));
        }
    }
}

/// Indices of the requests that have completed, in decreasing order (so the caller can
/// `swap_remove` them one by one).
fn completed(requests: &mut [ffi::MPI_Request]) -> Vec<usize> {
    if requests.is_empty() {
        return Vec::new();
    }
    let mut indices: Vec<c_int> = vec![0; requests.len()];
    let mut outcount: c_int = 0;
    // SAFETY: `requests` holds `len` live request handles and `indices` has room for `len`
    // entries; STATUSES_IGNORE is an initialised constant.
    let rc = unsafe {
        ffi::MPI_Testsome(
            requests.len() as c_int,
            requests.as_mut_ptr(),
            &mut outcount,
            indices.as_mut_ptr(),
            ffi::RSMPI_STATUSES_IGNORE,
        )
    };
    assert_eq!(rc, 0, "MPI_Testsome failed");
    let n = usize::try_from(outcount).unwrap_or(0); // MPI_UNDEFINED (< 0): none active
    let mut done: Vec<usize> = indices[..n].iter().map(|&i| i as usize).collect();
    done.sort_unstable_by(|a, b| b.cmp(a));
    done
}

fn finish_recv(buf: RecvBuf, ty: &ValueType) -> Value {
    let n = ty.len();
    // SAFETY: the receive completed, so MPI wrote exactly `n` elements (the sender's value has
    // the same static type as the plan says, checked by the planner) into the first `n`
    // positions of the buffer's capacity; all bit patterns are valid for these element types.
    let data = unsafe {
        match buf {
            RecvBuf::F64(mut v) => {
                v.set_len(n);
                Data::F64(v)
            }
            RecvBuf::F32(mut v) => {
                v.set_len(n);
                Data::F32(v)
            }
            RecvBuf::I64(mut v) => {
                v.set_len(n);
                Data::I64(v)
            }
            RecvBuf::U8(mut v) => {
                v.set_len(n);
                Data::U8(v)
            }
        }
    };
    match ty {
        ValueType::Scalar => match data {
            Data::F64(v) => Value::Scalar(v[0]),
            _ => unreachable!("scalars travel as one f64"),
        },
        ValueType::Array { shape, .. } => Value::Array(Array::new(shape.clone(), data)),
    }
}

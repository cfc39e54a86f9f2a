//! Every foreign call of the MPI backend, and so all of its `unsafe`.
//!
//! The rest of the backend sees safe wrappers whose one invariant is the one MPI's nonblocking
//! calls put on the caller (MPI standard §3.7.2): the buffer of a pending request must stay
//! where it is, alive, and untouched by anyone else until the request completes. As in
//! rsmpi's `request.rs`, a request is never handed out on its own: it lives in a
//! [`Requests`] list (or an [`InOrder`] queue) together with the buffer it borrows, and the
//! buffer comes back out only once MPI has reported the request complete. Dropping a list
//! with requests still pending leaks their buffers rather than freeing memory MPI may still
//! read or write (the engine drops its lists only after the close has completed them all).
//!
//! A handle (`Comm`) is valid only while its communicator lives: the caller of `start`
//! promises that (`super::start`).

use crate::graph::{Array, DType, Data, Value, ValueType};
use mpi::ffi;
use mpi::raw::AsRaw;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::Arc;

/// A communicator handle the engine may use from whichever thread drives it.
#[derive(Clone, Copy)]
pub(super) struct Comm(ffi::MPI_Comm);

// SAFETY: an MPI communicator handle is an opaque value valid in every thread of the process
// when MPI runs with MPI_THREAD_MULTIPLE, which `runtime` requires before starting a transport.
unsafe impl Send for Comm {}

impl Comm {
    /// The handle of `comm`, which must outlive every use of the handle.
    pub(super) fn of<C: AsRaw<Raw = ffi::MPI_Comm>>(comm: &C) -> Comm {
        Comm(comm.as_raw())
    }
}

/// The largest message tag `comm` allows (`MPI_TAG_UB`: at least 32767 by the standard,
/// 2^31 - 1 in Open MPI, as little as 2^19 - 1 in some MPICH builds). A value's tag is its
/// producer's global index, so a graph of more tasks than this cannot run (`runtime`
/// rejects it before planning, naming the first task past the limit).
pub fn max_tag<C: AsRaw<Raw = ffi::MPI_Comm>>(comm: &C) -> u32 {
    let mut value: *mut c_int = std::ptr::null_mut();
    let mut flag: c_int = 0;
    // SAFETY: MPI_TAG_UB is a predefined attribute key of every communicator; its value is a
    // pointer to an int the library owns, written into `value`; both out-parameters are valid.
    let rc = unsafe {
        ffi::MPI_Comm_get_attr(
            comm.as_raw(),
            ffi::MPI_TAG_UB as c_int,
            (&mut value as *mut *mut c_int).cast::<c_void>(),
            &mut flag,
        )
    };
    assert_eq!(rc, 0, "MPI_Comm_get_attr(MPI_TAG_UB) failed");
    if flag == 0 || value.is_null() {
        return 32767;
    }
    // SAFETY: `flag` says the attribute is set, so `value` points to the library's int.
    u32::try_from(unsafe { *value }).unwrap_or(32767)
}

/// A message matched by [`improbe`] and not yet received: only its receive may take it.
pub(super) struct Matched {
    message: ffi::MPI_Message,
    status: ffi::MPI_Status,
}

impl Matched {
    pub(super) fn source(&self) -> u32 {
        self.status.MPI_SOURCE as u32
    }

    pub(super) fn tag(&self) -> u32 {
        self.status.MPI_TAG as u32
    }

    /// Its length in bytes.
    fn bytes(&self) -> usize {
        let mut n: c_int = 0;
        // SAFETY: `status` was filled by MPI_Improbe; `n` is a live local.
        let rc = unsafe { ffi::MPI_Get_count(&self.status, ffi::RSMPI_UINT8_T, &mut n) };
        assert_eq!(rc, 0, "MPI_Get_count failed");
        usize::try_from(n).unwrap_or(0)
    }
}

/// Matches one arrived message from any source with any tag (`MPI_Improbe`, standard §3.8.2),
/// if there is one.
pub(super) fn improbe(comm: Comm) -> Option<Matched> {
    let mut flag: c_int = 0;
    // SAFETY: MPI_MESSAGE_NULL is an initialised extern static.
    let mut message = unsafe { ffi::RSMPI_MESSAGE_NULL };
    // SAFETY: the status is a plain C struct of integers, valid zeroed; MPI fills it in.
    let mut status: ffi::MPI_Status = unsafe { std::mem::zeroed() };
    // SAFETY: all pointers refer to live locals; `comm` is a valid communicator (`Comm`).
    let rc = unsafe {
        ffi::MPI_Improbe(
            ffi::RSMPI_ANY_SOURCE,
            ffi::RSMPI_ANY_TAG,
            comm.0,
            &mut flag,
            &mut message,
            &mut status,
        )
    };
    assert_eq!(rc, 0, "MPI_Improbe failed");
    (flag != 0).then_some(Matched { message, status })
}

/// Memory a send reads from.
///
/// # Safety
/// `payload` must describe memory that stays valid, unmoved and unwritten for as long as the
/// implementor lives, wherever the implementor itself is moved (a heap buffer it owns).
pub(super) unsafe trait SendBuf {
    /// Pointer, element count and MPI type of the payload.
    fn payload(&self) -> (*const c_void, c_int, ffi::MPI_Datatype);
}

// SAFETY: the bytes live on the heap, owned by the Vec; moving the Vec does not move them,
// and a shared `Vec` cannot be written.
unsafe impl SendBuf for Vec<u8> {
    fn payload(&self) -> (*const c_void, c_int, ffi::MPI_Datatype) {
        // SAFETY: a plain load of an initialised extern static.
        let dt = unsafe { ffi::RSMPI_UINT8_T };
        (self.as_ptr().cast(), count(self.len()), dt)
    }
}

// SAFETY: a value is immutable once shared (no interior mutability), and its payload lives
// in the `Arc`'s allocation or in the array's heap buffer, which the `Arc` keeps alive.
unsafe impl SendBuf for Arc<Value> {
    fn payload(&self) -> (*const c_void, c_int, ffi::MPI_Datatype) {
        match &**self {
            Value::Scalar(x) => (x as *const f64 as *const c_void, 1, datatype(DType::F64)),
            Value::Array(a) => {
                let dt = datatype(a.dtype());
                match a.data() {
                    Data::F64(v) => (v.as_ptr().cast(), count(v.len()), dt),
                    Data::F32(v) => (v.as_ptr().cast(), count(v.len()), dt),
                    Data::I64(v) => (v.as_ptr().cast(), count(v.len()), dt),
                    Data::U8(v) => (v.as_ptr().cast(), count(v.len()), dt),
                }
            }
        }
    }
}

/// A receive buffer of exactly the expected type: room for the value, filled by MPI, turned
/// into the value only once its receive has completed (`Requests::complete_recvs`).
pub(super) struct RecvBuf {
    data: RecvData,
    ty: ValueType,
}

enum RecvData {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
}

impl RecvBuf {
    /// An empty buffer with room for a value of type `ty`.
    pub(super) fn new(ty: ValueType) -> RecvBuf {
        let n = ty.len();
        let data = match ty.dtype() {
            DType::F64 => RecvData::F64(Vec::with_capacity(n)),
            DType::F32 => RecvData::F32(Vec::with_capacity(n)),
            DType::I64 => RecvData::I64(Vec::with_capacity(n)),
            DType::U8 => RecvData::U8(Vec::with_capacity(n)),
        };
        RecvBuf { data, ty }
    }

    /// The type of the value it will hold.
    pub(super) fn ty(&self) -> &ValueType {
        &self.ty
    }

    /// Where MPI writes, how many elements and of which MPI type.
    fn target(&mut self) -> (*mut c_void, c_int, ffi::MPI_Datatype) {
        let ptr = match &mut self.data {
            RecvData::F64(v) => v.as_mut_ptr().cast(),
            RecvData::F32(v) => v.as_mut_ptr().cast(),
            RecvData::I64(v) => v.as_mut_ptr().cast(),
            RecvData::U8(v) => v.as_mut_ptr().cast(),
        };
        (ptr, count(self.ty.len()), datatype(self.ty.dtype()))
    }

    /// The value MPI wrote. Only `Requests::complete_recvs` calls it, once the receive has
    /// completed.
    fn into_value(self) -> Value {
        let n = self.ty.len();
        // SAFETY: the receive completed, so MPI wrote exactly `n` elements (the sender's value
        // has the static type the plan says, checked by the planner) into the first `n`
        // positions of the buffer's capacity; all bit patterns are valid for these types.
        let data = unsafe {
            match self.data {
                RecvData::F64(mut v) => {
                    v.set_len(n);
                    Data::F64(v)
                }
                RecvData::F32(mut v) => {
                    v.set_len(n);
                    Data::F32(v)
                }
                RecvData::I64(mut v) => {
                    v.set_len(n);
                    Data::I64(v)
                }
                RecvData::U8(mut v) => {
                    v.set_len(n);
                    Data::U8(v)
                }
            }
        };
        match self.ty {
            ValueType::Scalar => match data {
                Data::F64(v) => Value::Scalar(v[0]),
                _ => unreachable!("scalars travel as one f64"),
            },
            ValueType::Array { shape, .. } => Value::Array(Array::new(shape, data)),
        }
    }
}

/// Requests in flight, each with what it describes (`M`) and the buffer it borrows (`B`),
/// in two parallel lists: `MPI_Testsome` wants a plain array of requests, so one call tests
/// them all.
pub(super) struct Requests<M, B> {
    raw: Vec<ffi::MPI_Request>,
    held: Vec<(M, B)>,
    /// Scratch for the indices `MPI_Testsome` reports, reused so that polling allocates
    /// nothing.
    done: Vec<c_int>,
}

// SAFETY: request handles are opaque values valid in every thread of the process under
// MPI_THREAD_MULTIPLE (`Comm`); the list is reached only through `&mut` or `&`, and `&`
// reads no handle.
unsafe impl<M: Send, B: Send> Send for Requests<M, B> {}

impl<M, B> Requests<M, B> {
    pub(super) fn new() -> Requests<M, B> {
        Requests {
            raw: Vec::new(),
            held: Vec::new(),
            done: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.raw.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// What is in flight.
    pub(super) fn iter(&self) -> impl Iterator<Item = &(M, B)> {
        self.held.iter()
    }

    /// Takes every completed request out, in decreasing index order, and hands its
    /// description and buffer to `f`; returns whether any completed.
    fn complete(&mut self, mut f: impl FnMut(M, B)) -> bool {
        self.done.clear();
        if self.raw.is_empty() {
            return false;
        }
        self.done.resize(self.raw.len(), 0);
        let mut outcount: c_int = 0;
        // SAFETY: `raw` holds `len` live request handles and `done` has room for `len`
        // entries; STATUSES_IGNORE is an initialised constant.
        let rc = unsafe {
            ffi::MPI_Testsome(
                self.raw.len() as c_int,
                self.raw.as_mut_ptr(),
                &mut outcount,
                self.done.as_mut_ptr(),
                ffi::RSMPI_STATUSES_IGNORE,
            )
        };
        assert_eq!(rc, 0, "MPI_Testsome failed");
        // MPI_UNDEFINED (< 0): none active.
        self.done.truncate(usize::try_from(outcount).unwrap_or(0));
        self.done.sort_unstable_by(|a, b| b.cmp(a));
        for k in 0..self.done.len() {
            let i = self.done[k] as usize;
            self.raw.swap_remove(i);
            let (m, b) = self.held.swap_remove(i);
            f(m, b);
        }
        !self.done.is_empty()
    }
}

impl<M, B: SendBuf> Requests<M, B> {
    /// Posts `MPI_Isend` of `buf` to rank `dest` with `tag` on `comm`; `buf` stays here
    /// until the send completes.
    pub(super) fn isend(&mut self, comm: Comm, dest: u32, tag: u32, meta: M, buf: B) {
        let (ptr, n, dt) = buf.payload();
        // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
        let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: `ptr` points to `n` elements of type `dt` that `buf` keeps valid and unmoved
        // (`SendBuf`); `buf` is held in this list until MPI_Testsome reports the request
        // complete (`complete_sends`), and MPI only reads it. `comm` is valid (`Comm`).
        let rc = unsafe {
            ffi::MPI_Isend(
                ptr,
                n,
                dt,
                dest as c_int,
                tag as c_int,
                comm.0,
                &mut request,
            )
        };
        assert_eq!(rc, 0, "MPI_Isend failed");
        self.raw.push(request);
        self.held.push((meta, buf));
    }

    /// Takes the completed sends out (their buffers may go); returns whether any completed.
    pub(super) fn complete_sends(&mut self, f: impl FnMut(M, B)) -> bool {
        self.complete(f)
    }
}

impl<M> Requests<M, RecvBuf> {
    /// Posts `MPI_Irecv` into `buf` from rank `source` with `tag` on `comm`.
    pub(super) fn irecv(&mut self, comm: Comm, source: u32, tag: u32, meta: M, mut buf: RecvBuf) {
        let (ptr, n, dt) = buf.target();
        // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
        let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: `ptr` has capacity for `n` elements of type `dt`; the buffer is moved into
        // `held` (its heap allocation does not move) and not touched until the request
        // completes (`complete_recvs`). `comm` is valid (`Comm`).
        let rc = unsafe {
            ffi::MPI_Irecv(
                ptr,
                n,
                dt,
                source as c_int,
                tag as c_int,
                comm.0,
                &mut request,
            )
        };
        assert_eq!(rc, 0, "MPI_Irecv failed");
        self.raw.push(request);
        self.held.push((meta, buf));
    }

    /// Posts `MPI_Imrecv` of the matched message into `buf`, which must be of its type.
    pub(super) fn imrecv(&mut self, mut m: Matched, meta: M, mut buf: RecvBuf) {
        let (ptr, n, dt) = buf.target();
        // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
        let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: as in `irecv`; `m.message` came from MPI_Improbe and is consumed here
        // (`Matched` is taken by value).
        let rc = unsafe { ffi::MPI_Imrecv(ptr, n, dt, &mut m.message, &mut request) };
        assert_eq!(rc, 0, "MPI_Imrecv failed");
        self.raw.push(request);
        self.held.push((meta, buf));
    }

    /// Takes the completed receives out and hands each description and value to `f`;
    /// returns whether any completed.
    pub(super) fn complete_recvs(&mut self, mut f: impl FnMut(M, Value)) -> bool {
        self.complete(|m, buf| f(m, buf.into_value()))
    }
}

impl<M, B> Drop for Requests<M, B> {
    fn drop(&mut self) {
        // MPI may still read or write a pending request's buffer: never free it.
        if !self.raw.is_empty() {
            std::mem::forget(std::mem::take(&mut self.held));
        }
    }
}

/// Byte messages being received, handed over in the order they were matched.
pub(super) struct InOrder<M> {
    queue: VecDeque<(ffi::MPI_Request, M, Vec<u8>)>,
}

// SAFETY: as for `Requests`.
unsafe impl<M: Send> Send for InOrder<M> {}

impl<M> InOrder<M> {
    pub(super) fn new() -> InOrder<M> {
        InOrder {
            queue: VecDeque::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The lengths of the messages being received.
    pub(super) fn lens(&self) -> impl Iterator<Item = usize> + '_ {
        self.queue.iter().map(|(_, _, b)| b.len())
    }

    /// Posts the receive of a matched message of bytes (`MPI_Imrecv`) behind the others.
    pub(super) fn imrecv(&mut self, mut m: Matched, meta: M) {
        let n = m.bytes();
        let mut buf = vec![0u8; n];
        // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
        let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: `buf` has room for the `n` bytes of the matched message; it is moved into
        // `queue` (its heap buffer does not move) and not touched until the request completes
        // (`pop_done`). `m.message` came from MPI_Improbe and is consumed here.
        let rc = unsafe {
            ffi::MPI_Imrecv(
                buf.as_mut_ptr().cast(),
                count(n),
                ffi::RSMPI_UINT8_T,
                &mut m.message,
                &mut request,
            )
        };
        assert_eq!(rc, 0, "MPI_Imrecv failed");
        self.queue.push_back((request, meta, buf));
    }

    /// The oldest message, once its receive has completed.
    pub(super) fn pop_done(&mut self) -> Option<(M, Vec<u8>)> {
        let (request, _, _) = self.queue.front_mut()?;
        if !test(request) {
            return None;
        }
        let (_, meta, buf) = self.queue.pop_front().expect("front exists");
        Some((meta, buf))
    }
}

impl<M> Drop for InOrder<M> {
    fn drop(&mut self) {
        // As for `Requests`: a pending receive's buffer is never freed.
        if !self.queue.is_empty() {
            std::mem::forget(std::mem::take(&mut self.queue));
        }
    }
}

/// True once the request has completed (then MPI has freed it).
fn test(request: &mut ffi::MPI_Request) -> bool {
    let mut flag: c_int = 0;
    // SAFETY: `request` is a live request handle; STATUS_IGNORE is an initialised constant.
    let rc = unsafe { ffi::MPI_Test(request, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
    assert_eq!(rc, 0, "MPI_Test failed");
    flag != 0
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

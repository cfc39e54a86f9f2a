//! The MPI backend: all point-to-point traffic of a rank lives in one `Engine` behind a
//! mutex; whichever thread holds it drives the network for one turn.
//!
//! Who drives it (MPI runs with MPI_THREAD_MULTIPLE; the mutex makes the turns one at a time):
//!
//! - a worker that calls `send` posts the value at once when the engine is free (no hand-off:
//!   on a busy core the thread that would post it may wait a whole time slice, 100s of µs);
//! - an idle worker waiting for a value, and a worker between tasks while another worker of
//!   its rank sleeps, call `poll` (see `sched::executor`, step 8), which runs a turn when the
//!   engine is free;
//! - the progress thread runs turns for whatever the workers leave: transfers that must move
//!   while every worker runs a long task, values arriving while workers sleep, progress
//!   counts, and the close.
//!
//! A turn (MPI standard §3.7 nonblocking communication, §3.8 matched probe):
//!
//! 1. posts `MPI_Isend` for each queued value, straight from the array's own buffer (no copy;
//!    the `Arc` keeps it alive until the request completes);
//! 2. keeps the receives of the next `PREPOST` small values posted ahead of their arrival
//!    (`MPI_Irecv` by source and key, into a buffer of exactly the expected type), in key
//!    order, so MPI delivers a value straight into its buffer while the rank computes and
//!    taking it costs one test; and matches the messages no posted receive covers with
//!    `MPI_Improbe` (any source, any tag; the tag is the value's key), allocates the buffer
//!    and posts `MPI_Imrecv` into it (no copy on this side either). Why key order cannot
//!    deadlock, and when the probe is skipped: `Engine::prepost`;
//! 3. tests its pending requests, hands completed receives to the scheduler's inbox (on the
//!    thread that runs the turn) and drops completed sends;
//! 4. receives control messages and hands them over in the order they were matched.
//!
//! `Engine::turn` runs them in the order 1, 4, 2, 3: a delivery, which may ready a task on
//! the thread running the turn, is the last thing a turn does.
//!
//! A turn with nothing queued takes no queue lock (`Shared::queued`).
//!
//! The progress thread adds: 5. about twice a second, it exchanges progress counts (below);
//! 6. when idle it backs off. Alone (one rank) it only wakes for the counts and the close.
//! While every worker is attentive (`Inbox::attentive`: running tasks or polling) and no
//! large message is in flight, it only looks in every `ATTENDED_PARK` (while a control
//! message may need a prompt answer, `Transport::control_expected`: every
//! `STEALING_PARK_POLLED` while workers poll between tasks, which answers the peers'
//! requests, and every `STEALING_PARK` while they run long tasks), so it never takes a core a
//! worker needs; a worker about to sleep wakes it (`Transport::unattended`). Otherwise it
//! spins briefly, then yields, then parks (waking a parked thread costs ~30 µs on this VM; a
//! send the sending thread cannot post itself, or a large one, wakes it at once), and after
//! a turn that delivered values it first yields the core once, since the worker that a
//! delivery readies may be waiting for this very core.
//!
//! **The close** (`Progress::finish`, once the executor's run has ended) leaves no message of
//! the transport's unreceived at `MPI_Finalize` (ARCHITECTURE.md, "Shutdown", gives the
//! whole run's order). The progress thread exits only when asked to close and:
//!
//! 1. control: nothing is queued, every control send has completed and every control message
//!    matched has been received and handed over. The steal protocol's `Fin` exchange
//!    (`sched/steal.rs`) ended the run, so no peer sends anything more;
//! 2. values: every queued value is posted and every send has completed, and every value
//!    this rank expects (the plan's remote values, each sent to it once) has arrived: no
//!    receive is left posted and no value is left unmatched;
//! 3. progress counts: a rank other than 0 has sent its final count, after which it sends no
//!    count (`Counts::tick`), and that send has completed; rank 0 has every other rank's
//!    final count, so every count sent before it was received too (messages from one rank on
//!    one communicator are matched in order, MPI standard §3.5).
//!
//! Keys are task indices, so tags stay below 2^31-1, Open MPI's and MPICH's `MPI_TAG_UB`.
//!
//! **Tracing.** With a trace epoch (`--trace` on; every rank knows it from the settings) each
//! send is recorded from posting to completion and each receive from matching to completion
//! (a pre-posted one, step 2a, as a zero-length event when its completion is seen: MPI does
//! not say when the message came), as `TransferEvent`s that `Progress::finish` returns.
//! Without one, no clock is read and nothing is recorded.
//!
//! **Progress counts.** On a communicator of their own (a duplicate, so counts never meet
//! values), ranks other than 0 send their count of finished tasks to rank 0 every half second
//! when it changed, with tag 0, and once at the end with tag 1; rank 0 adds them to its own
//! count and hands the total to its `ProgressLink::on_tick` at the same pace. One 8-byte
//! message per rank per half second at most: nothing a run can measure.

use super::{Inbox, TransferStats, Transport};
use crate::graph::{Array, DType, Data, Value, ValueType};
use crate::trace::{Direction, TransferEvent};
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::Communicator;
use rustc_hash::FxHashSet;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Sends posted to MPI at once; the rest wait in the progress thread's backlog.
const MAX_IN_FLIGHT: usize = 128;

/// Receives kept posted ahead of their values' arrival (`Engine::prepost`), for values under
/// `LARGE`: at most 2 MiB of buffers waiting, and a short list for `MPI_Testsome` to walk.
const PREPOST: usize = 32;

/// A value this rank expects to receive.
pub struct Expected {
    /// The producing task's global index: the message's tag.
    pub key: u32,
    /// The rank that sends it.
    pub source: u32,
    /// Its type, so the receive buffer is exactly its size.
    pub ty: ValueType,
}

struct Outgoing {
    dest: u32,
    key: u32,
    value: Arc<Value>,
}

/// State shared by the senders (worker threads), the pollers and the progress thread.
struct Shared {
    queue: Mutex<Vec<Outgoing>>,
    /// Control messages waiting to be posted: (destination, bytes).
    control: Mutex<Vec<(u32, Vec<u8>)>>,
    /// Something was queued since a turn last took the queues (set after the push), so a
    /// turn with nothing to post takes neither lock.
    queued: AtomicBool,
    closing: AtomicBool,
    /// A control message may need a prompt answer (`Transport::control_expected`: stealing
    /// is on and this rank has tasks to give, a lent task's result or a reply to come): the
    /// idle progress thread looks in more often.
    control_expected: AtomicBool,
    /// Control messages are due now (the run is ending): poll as for awaited values.
    control_soon: AtomicBool,
    /// The scheduler is paused (`Transport::paused`): every arrived value is matched at once,
    /// whatever its place in the pre-post order (`Engine::match_values`).
    paused: AtomicBool,
    /// The failure-injection tests' lost message (`DIRK_TEST_FAULT=drop-value:R:K`: rank R
    /// never sends the value with key K, so the run stalls); `u64::MAX` in normal runs.
    dropped_key: AtomicU64,
    progress: Mutex<Option<Thread>>,
    stats: Arc<TransferStats>,
    /// When a worker last lent itself to the network (`Transport::poll`), in µs since
    /// `epoch`: with stealing on, the progress thread looks in for the peers' requests
    /// often only while the workers do not (they run long tasks).
    last_poll_us: AtomicU64,
    epoch: Instant,
    /// The traffic state, from `start` until `finish` (see `Engine`).
    engine: Mutex<Option<Engine>>,
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
        if u64::from(key) == self.shared.dropped_key.load(Ordering::Relaxed) {
            return;
        }
        self.shared.stats.queued();
        let large = value.bytes() >= LARGE;
        self.shared
            .queue
            .lock()
            .expect("send queue lock")
            .push(Outgoing { dest, key, value });
        self.shared.queued.store(true, Ordering::Release);
        self.post_now(large);
    }

    fn send_control(&self, dest: u32, msg: Vec<u8>) {
        self.shared.stats.queued();
        let large = msg.len() >= LARGE;
        self.shared
            .control
            .lock()
            .expect("control queue lock")
            .push((dest, msg));
        self.shared.queued.store(true, Ordering::Release);
        self.post_now(large);
    }

    fn expect_control_soon(&self) {
        self.shared.control_soon.store(true, Ordering::Relaxed);
        self.shared.wake();
    }

    fn control_expected(&self, expected: bool) {
        self.shared
            .control_expected
            .store(expected, Ordering::Relaxed);
    }

    fn unattended(&self) {
        // Cheap unless the progress thread is parked: then it is what must take over.
        self.shared.wake();
    }

    fn paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Release);
        // The workers stop polling: the progress thread takes in what is in flight now.
        self.shared.wake();
    }

    fn poll(&self, wait: bool) -> bool {
        // Read only by `attended_park` while control messages are expected: no clock read
        // per poll otherwise (an idle worker polls back to back).
        if self.shared.control_expected.load(Ordering::Relaxed) {
            let now = self.shared.epoch.elapsed().as_micros() as u64;
            self.shared.last_poll_us.store(now, Ordering::Relaxed);
        }
        let mut engine = match self.shared.engine.try_lock() {
            Ok(engine) => engine,
            Err(std::sync::TryLockError::WouldBlock) if wait => {
                self.shared.engine.lock().expect("engine lock")
            }
            // Another thread is driving the network right now.
            Err(std::sync::TryLockError::WouldBlock) => return true,
            Err(std::sync::TryLockError::Poisoned(e)) => panic!("engine lock poisoned: {e}"),
        };
        match engine.as_mut() {
            Some(e) => {
                e.turn(&self.shared);
                e.outstanding()
            }
            None => false,
        }
    }
}

impl MpiSender {
    /// Posts what was just queued from this thread when nobody else is driving the network
    /// (no hand-off to the progress thread, which may be waiting for this very core, or parked
    /// for milliseconds: the end of a stealing run is two rounds of control messages, and
    /// left to the progress thread they added 3 ms to a 2-rank Life run); else leaves it to
    /// whoever holds the engine. The progress thread is woken when this thread could not
    /// post (whoever holds the engine may be handing it over), and for a `large` message
    /// (rendezvous), which moves only while MPI is driven here too: its long attended park
    /// was chosen before the message existed, and woken it parks briefly until the message
    /// has moved (`progress_loop`).
    fn post_now(&self, large: bool) {
        let posted = match self.shared.engine.try_lock() {
            Ok(mut engine) => engine.as_mut().map(|e| e.post(&self.shared)).is_some(),
            Err(_) => false,
        };
        if !posted || large {
            self.shared.wake();
        }
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

/// How long the idle progress thread sleeps while every worker is attentive (running tasks
/// or polling; they also poll between tasks now and then): it is then needed only for
/// transfers that move while every worker runs a long task, and for progress counts. A
/// worker that stops attending wakes it at once, and a message of `LARGE` bytes or more, or a
/// control message expected, keeps it closer (below). Waking every 1 ms instead preempted
/// each rank's only worker 1,000 times a second (`perf record -e sched:sched_switch`) and
/// cost 4–5 % of a 1-rank Life run (benches/HISTORY.md, "Scaling", fourth session); every 20 ms,
/// a 2-rank Life run's tiles during which it ran a turn took about 100 µs longer each, 1-2 ms
/// a rank and second (`--trace`: sends completing inside a tile; tenth session).
const ATTENDED_PARK: Duration = Duration::from_millis(100);

/// `ATTENDED_PARK` while control messages are expected (`Transport::control_expected`) and
/// no worker has polled for 2 ms (they run long tasks): steal requests must be answered
/// within about this long. (20 ms took
/// `benches/steal.py` skew-2 from 1.6× to 1.04×.)
const STEALING_PARK: Duration = Duration::from_millis(1);

/// `ATTENDED_PARK` while control messages are expected and a worker polled within 2 ms: the
/// workers answer
/// most requests themselves, and 1 ms wake-ups only preempted them (twice the tiles over
/// 1.25× their median in a 2-rank Life run, benches/HISTORY.md, "Scaling", fourth session).
/// Not 20 ms: a victim
/// whose workers just began long tasks would then sit on requests and on stolen tasks'
/// results that long (skew-2 fell to 1.05× in 2 runs of 3); 5 ms cost Life 2 % more.
const STEALING_PARK_POLLED: Duration = Duration::from_millis(10);

/// Messages of at least this many bytes go by rendezvous (Open MPI's shared-memory and TCP
/// eager limits are 4 and 64 KiB): while one is in flight the idle progress thread keeps
/// looking in, attentive workers or not (every 50 µs while something is awaited, else every
/// 0.5-2 ms; `progress_loop`).
const LARGE: usize = 64 << 10;

/// How often progress counts travel and rank 0's `on_tick` is called.
const TICK: Duration = Duration::from_millis(500);

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

/// Progress counting across ranks, driven by the progress thread (see the module doc).
pub struct ProgressLink {
    comm: RawComm,
    rank: u32,
    ranks: u32,
    /// This rank's finished tasks so far.
    done: Box<dyn Fn() -> u64 + Send>,
    /// Rank 0 only: called about every `TICK` with the total finished on all ranks, and once
    /// more at the end with `true`.
    on_tick: Option<Box<dyn FnMut(u64, bool) + Send>>,
}

impl ProgressLink {
    /// A link over `comm` (a communicator used for nothing else, which must outlive the
    /// `Progress` it is given to). `on_tick` is used on rank 0 only.
    pub fn new<C: AsRaw<Raw = ffi::MPI_Comm> + Communicator>(
        comm: &C,
        done: Box<dyn Fn() -> u64 + Send>,
        on_tick: Option<Box<dyn FnMut(u64, bool) + Send>>,
    ) -> ProgressLink {
        ProgressLink {
            comm: RawComm(comm.as_raw()),
            rank: comm.rank() as u32,
            ranks: comm.size() as u32,
            done,
            on_tick,
        }
    }
}

/// Makes the sender; start the progress thread with `start` once the inbox exists.
pub fn sender(stats: Arc<TransferStats>) -> MpiSender {
    MpiSender {
        shared: Arc::new(Shared {
            queue: Mutex::new(Vec::new()),
            control: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            queued: AtomicBool::new(false),
            control_expected: AtomicBool::new(false),
            control_soon: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            dropped_key: AtomicU64::new(u64::MAX),
            progress: Mutex::new(None),
            stats,
            last_poll_us: AtomicU64::new(0),
            epoch: Instant::now(),
            engine: Mutex::new(None),
        }),
    }
}

/// Starts the progress thread of `sender` on `comm`, delivering to `inbox` until every
/// `expected` value has arrived; control messages travel on `control` (a communicator used for
/// nothing else). Both must outlive the returned `Progress`. With `trace_epoch`, transfers
/// are recorded in ns since that instant.
pub fn start<C: AsRaw<Raw = ffi::MPI_Comm> + Communicator>(
    sender: &MpiSender,
    comm: &C,
    control: &C,
    inbox: Arc<dyn Inbox>,
    mut expected: Vec<Expected>,
    trace_epoch: Option<Instant>,
    link: ProgressLink,
) -> Progress {
    let shared = Arc::clone(&sender.shared);
    if let Some(key) = injected_drop(comm.rank() as u32) {
        shared.dropped_key.store(u64::from(key), Ordering::Relaxed);
    }
    let inbox_p = Arc::clone(&inbox);
    let total = expected.len();
    expected.sort_unstable_by_key(|x| x.key);
    let (upcoming, large): (Vec<Expected>, Vec<Expected>) =
        expected.into_iter().partition(|x| x.ty.bytes() < LARGE);
    *shared.engine.lock().expect("engine lock") = Some(Engine {
        comm: comm.as_raw(),
        control: control.as_raw(),
        inbox,
        tracer: Tracer {
            epoch: trace_epoch,
            rank: comm.rank() as u32,
            events: Vec::new(),
        },
        backlog: VecDeque::new(),
        send_reqs: Vec::new(),
        sends: Vec::new(),
        recv_reqs: Vec::new(),
        recvs: Vec::new(),
        control_reqs: Vec::new(),
        control_bufs: Vec::new(),
        control_in: VecDeque::new(),
        done: Vec::new(),
        upcoming: upcoming.into(),
        probed: FxHashSet::default(),
        preposted: 0,
        probe_left: large.len(),
        expected: total,
        received: 0,
    });
    let s = Arc::clone(&shared);
    let handle = thread::Builder::new()
        .name("dirk-progress".into())
        .spawn(move || {
            let mut counts = Counts::new(link);
            progress_loop(&s, inbox_p.as_ref(), &mut counts);
        })
        .expect("spawn the progress thread");
    *shared.progress.lock().expect("progress lock") = Some(handle.thread().clone());
    Progress { shared, handle }
}

impl Progress {
    /// Waits until every queued send has completed and every expected value has arrived;
    /// returns the transfers recorded (none unless tracing).
    pub fn finish(self) -> Vec<TransferEvent> {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake();
        if self.handle.join().is_err() {
            panic!("the MPI progress thread panicked");
        }
        let engine = self.shared.engine.lock().expect("engine lock").take();
        engine.map_or_else(Vec::new, |e| e.tracer.events)
    }
}

/// Records transfers when tracing is on.
struct Tracer {
    epoch: Option<Instant>,
    rank: u32,
    events: Vec<TransferEvent>,
}

impl Tracer {
    /// Now, in ns since the epoch; 0 (and no clock read) when not tracing.
    fn now(&self) -> u64 {
        self.epoch.map_or(0, |e| e.elapsed().as_nanos() as u64)
    }

    fn record(&mut self, peer: u32, dir: Direction, key: u32, bytes: usize, start_ns: u64) {
        if self.epoch.is_some() {
            let end_ns = self.now();
            self.events.push(TransferEvent {
                rank: self.rank,
                peer,
                dir,
                key,
                bytes: bytes as u64,
                start_ns,
                end_ns,
            });
        }
    }
}

/// Tag of a progress count sent during the run, and of the last one.
const TAG_COUNT: c_int = 0;
const TAG_FINAL: c_int = 1;

/// The progress-count side of the loop (step 4).
struct Counts {
    link: ProgressLink,
    next_tick: Instant,
    /// Rank 0: the latest count of each rank; elsewhere: the last count sent.
    latest: Vec<u64>,
    /// Rank 0: final counts received so far.
    finals: u32,
    /// Elsewhere: sends in flight with their buffers.
    sends: Vec<(ffi::MPI_Request, Box<u64>)>,
    /// Elsewhere: the final count has been posted.
    final_sent: bool,
}

impl Counts {
    fn new(link: ProgressLink) -> Counts {
        Counts {
            latest: vec![0; link.ranks as usize],
            link,
            next_tick: Instant::now() + TICK,
            finals: 0,
            sends: Vec::new(),
            final_sent: false,
        }
    }

    /// Called by the loop from time to time: sends or gathers counts when a tick is due.
    fn tick(&mut self, now: Instant) {
        // After the final count (`settle`) nothing more goes out: rank 0 stops listening once
        // it has every final count, so a count sent after it would reach `MPI_Finalize`
        // unmatched.
        if now < self.next_tick || self.final_sent {
            return;
        }
        self.next_tick = now + TICK;
        if self.link.rank == 0 {
            self.drain();
            let total = self.total();
            if let Some(f) = self.link.on_tick.as_mut() {
                f(total, false);
            }
        } else {
            let done = (self.link.done)();
            if done != self.latest[0] {
                self.latest[0] = done;
                self.post(done, TAG_COUNT);
            }
            self.sends.retain_mut(|(r, _)| !test(r));
        }
    }

    fn total(&self) -> u64 {
        (self.link.done)() + self.latest[1..].iter().sum::<u64>()
    }

    /// Rank 0: receives every count that has arrived.
    fn drain(&mut self) {
        while let Some((mut message, status)) = improbe(self.link.comm.0) {
            let mut count: u64 = 0;
            // SAFETY: one u64 into a live local; `message` came from MPI_Improbe above.
            let rc = unsafe {
                ffi::MPI_Mrecv(
                    &mut count as *mut u64 as *mut c_void,
                    1,
                    ffi::RSMPI_UINT64_T,
                    &mut message,
                    ffi::RSMPI_STATUS_IGNORE,
                )
            };
            assert_eq!(rc, 0, "MPI_Mrecv failed");
            let src = status.MPI_SOURCE as usize;
            self.latest[src] = self.latest[src].max(count);
            if status.MPI_TAG == TAG_FINAL {
                self.finals += 1;
            }
        }
    }

    /// Elsewhere: posts one count to rank 0.
    fn post(&mut self, count: u64, tag: c_int) {
        let buf = Box::new(count);
        // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
        let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: the boxed u64 stays alive (and unmoved on the heap) in `self.sends` until
        // MPI_Test reports the request complete; the communicator is valid.
        let rc = unsafe {
            ffi::MPI_Isend(
                &*buf as *const u64 as *const c_void,
                1,
                ffi::RSMPI_UINT64_T,
                0,
                tag,
                self.link.comm.0,
                &mut request,
            )
        };
        assert_eq!(rc, 0, "MPI_Isend failed");
        self.sends.push((request, buf));
    }

    /// At close: true once the counts are settled (rank 0: every final count arrived and the
    /// last tick was given; elsewhere: the final count was sent).
    fn settle(&mut self) -> bool {
        if self.link.rank == 0 {
            self.drain();
            if self.finals + 1 < self.link.ranks {
                return false;
            }
            let total = self.total();
            if let Some(mut f) = self.link.on_tick.take() {
                f(total, true);
            }
            true
        } else {
            if !self.final_sent {
                self.final_sent = true;
                let done = (self.link.done)();
                self.post(done, TAG_FINAL);
            }
            self.sends.retain_mut(|(r, _)| !test(r));
            self.sends.is_empty()
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

impl RecvBuf {
    /// An empty buffer with room for a value of type `ty`, and where MPI writes into it.
    fn for_type(ty: &ValueType) -> (RecvBuf, *mut c_void) {
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
        (buf, ptr)
    }
}

struct PendingRecv {
    key: u32,
    source: u32,
    /// When it was matched (`None`: pre-posted; the trace then times it from completion,
    /// since MPI does not say when the message came).
    start_ns: Option<u64>,
    ty: ValueType,
    buf: RecvBuf,
}

/// A send in flight: the value stays alive until its request completes.
struct PendingSend {
    dest: u32,
    key: u32,
    start_ns: u64,
    value: Arc<Value>,
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

/// The state of all point-to-point traffic of one rank: what is queued, posted and expected.
/// Behind `Shared::engine`; whichever thread holds the lock drives the network for one turn
/// (the progress thread, or a worker through `Transport::poll` / `Transport::send`).
struct Engine {
    comm: ffi::MPI_Comm,
    control: ffi::MPI_Comm,
    inbox: Arc<dyn Inbox>,
    tracer: Tracer,
    /// Values not yet posted (more than `MAX_IN_FLIGHT` in flight).
    backlog: VecDeque<Outgoing>,
    // Requests and what they keep alive, in two parallel lists each (MPI_Testsome wants a
    // plain array of requests).
    send_reqs: Vec<ffi::MPI_Request>,
    sends: Vec<PendingSend>,
    recv_reqs: Vec<ffi::MPI_Request>,
    recvs: Vec<PendingRecv>,
    control_reqs: Vec<ffi::MPI_Request>,
    control_bufs: Vec<Vec<u8>>,
    /// Control messages being received, in the order they were matched (and are handed
    /// over): the request, the source and the buffer MPI writes into.
    control_in: VecDeque<(ffi::MPI_Request, u32, Vec<u8>)>,
    /// Scratch for `completed` (indices MPI_Testsome reports).
    done: Vec<c_int>,
    /// Expected values under `LARGE` whose receives are not posted yet, in key order (see
    /// `prepost`).
    upcoming: VecDeque<Expected>,
    /// Keys of `upcoming` that `MPI_Improbe` matched before their turn came: skipped there.
    probed: FxHashSet<u32>,
    /// Pre-posted receives not yet complete (at most `PREPOST`).
    preposted: usize,
    /// Expected values of `LARGE` or more not yet matched: only `MPI_Improbe` finds them.
    probe_left: usize,
    /// Values expected in the whole run, and received so far (`recvs` holds those matched or
    /// pre-posted and not yet received).
    expected: usize,
    received: usize,
}

// SAFETY: the communicator and request handles are opaque values valid in every thread of the
// process when MPI runs with MPI_THREAD_MULTIPLE, which `runtime` requires before starting a
// transport; the engine is only ever used by one thread at a time (it lives in a mutex).
unsafe impl Send for Engine {}

/// What one turn of the engine did.
#[derive(Clone, Copy, Default)]
struct Turn {
    /// Something was posted, matched or completed.
    active: bool,
    /// A value was handed to the inbox.
    delivered: bool,
}

impl Engine {
    /// Something is still to come or to complete: an expected value, a posted request or a
    /// queued value.
    fn outstanding(&self) -> bool {
        self.received < self.expected
            || !self.sends.is_empty()
            || !self.backlog.is_empty()
            || !self.control_bufs.is_empty()
            || !self.control_in.is_empty()
    }

    /// A value is still to be matched or received (the idle progress thread polls often).
    fn waiting(&self) -> bool {
        self.received < self.expected
    }

    /// A large message is on its way in or out: over TCP its data moves only inside MPI
    /// calls, so someone must keep calling even while every worker runs a long task.
    fn moving_large(&self) -> bool {
        self.sends.iter().any(|s| s.value.bytes() >= LARGE)
            || self.recvs.iter().any(|r| r.ty.bytes() >= LARGE)
            || self.moving_large_control()
    }

    /// A large control message (a stolen task's inputs or result) is on its way in or out.
    /// It moves only inside MPI calls on both sides, and the peer's thread may be waiting for
    /// it, so the idle progress thread looks in every 50 µs, as for an awaited value. (Left to
    /// the 10-20 ms parks, a stolen 1 MiB Life tile's result took 38 ms to come back, and
    /// both ranks of a 2-rank Life run waited for it.)
    fn moving_large_control(&self) -> bool {
        self.control_bufs.iter().any(|b| b.len() >= LARGE)
            || self.control_in.iter().any(|(_, _, b)| b.len() >= LARGE)
    }

    /// Posts one value's `MPI_Isend` and keeps the value alive until it completes.
    fn isend(&mut self, shared: &Shared, o: Outgoing) {
        let start_ns = self.tracer.now();
        let (ptr, n, dt) = payload(&o.value);
        // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
        let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: `ptr` points to `n` elements of type `dt` owned by `o.value`, which is
        // kept alive in `sends` until MPI_Test reports the request complete; MPI only reads
        // the buffer. `comm` is a valid communicator (see `Engine`'s Send).
        let rc = unsafe {
            ffi::MPI_Isend(
                ptr,
                n,
                dt,
                o.dest as c_int,
                o.key as c_int,
                self.comm,
                &mut request,
            )
        };
        assert_eq!(rc, 0, "MPI_Isend failed");
        shared.stats.sent(o.value.bytes());
        self.send_reqs.push(request);
        self.sends.push(PendingSend {
            dest: o.dest,
            key: o.key,
            start_ns,
            value: o.value,
        });
    }

    /// Step 1: posts queued sends, at most MAX_IN_FLIGHT at a time (MPI_Testsome walks its
    /// whole list, so an unbounded list makes many small sends quadratic) but for the one
    /// exception below; and 1b: queued control messages.
    fn post(&mut self, shared: &Shared) -> bool {
        let mut active = false;
        let queued = shared.queued.swap(false, Ordering::AcqRel);
        if queued {
            let mut queue = shared.queue.lock().expect("send queue lock");
            if self.backlog.is_empty() {
                self.backlog = std::mem::take(&mut *queue).into();
            } else {
                self.backlog.extend(queue.drain(..));
            }
        }
        while self.send_reqs.len() < MAX_IN_FLIGHT {
            let Some(o) = self.backlog.pop_front() else {
                break;
            };
            active = true;
            self.isend(shared, o);
        }
        // Over the cap, one more send goes when the backlog holds a key smaller than every key
        // in flight. A receiver pre-posts its small values in key order (step 2a) and probes
        // for nothing else once its large values are in, so above the eager limit (a
        // rendezvous) a send completes only after its key's receive is posted. If the sends
        // in flight were all beyond their receivers' windows, and the keys those windows wait
        // for sat behind the cap, no send would ever complete. The smallest key outstanding
        // anywhere is smaller than every key in flight, so it always passes this test (see
        // `prepost` for why it is then inside its receiver's window).
        if self.send_reqs.len() >= MAX_IN_FLIGHT {
            let smallest_in_flight = self.sends.iter().map(|s| s.key).min();
            let smallest_queued = (0..self.backlog.len()).min_by_key(|&i| self.backlog[i].key);
            if let (Some(i), Some(limit)) = (smallest_queued, smallest_in_flight) {
                if self.backlog[i].key < limit {
                    let o = self.backlog.remove(i).expect("index from the backlog");
                    active = true;
                    self.isend(shared, o);
                }
            }
        }
        // 1b. Control messages (few and small; sent as bytes).
        let queued_control = if queued {
            std::mem::take(&mut *shared.control.lock().expect("control queue lock"))
        } else {
            Vec::new()
        };
        for (dest, buf) in queued_control {
            active = true;
            // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
            let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
            // SAFETY: `buf` is moved into `control_bufs` (its heap buffer does not move) and
            // kept there until MPI_Testsome reports the request complete; `control` is a valid
            // communicator.
            let rc = unsafe {
                ffi::MPI_Isend(
                    buf.as_ptr() as *const c_void,
                    count(buf.len()),
                    ffi::RSMPI_UINT8_T,
                    dest as c_int,
                    0,
                    self.control,
                    &mut request,
                )
            };
            assert_eq!(rc, 0, "MPI_Isend failed");
            shared.stats.sent(buf.len());
            self.control_reqs.push(request);
            self.control_bufs.push(buf);
        }
        active
    }

    /// Step 4: receives control messages and hands them over, in the order they were
    /// matched. The receive does not block: a large one (a stolen task's inputs or result)
    /// moves only as fast as its sender calls MPI, and a blocking `MPI_Mrecv` held the engine,
    /// and so every delivery of the rank, that long (13 ms in a 2-rank Life run).
    fn receive_control(&mut self, shared: &Shared) -> bool {
        let mut active = false;
        while let Some((mut message, status)) = improbe(self.control) {
            active = true;
            let mut n: c_int = 0;
            // SAFETY: `status` was filled by MPI_Improbe; `n` is a live local.
            let rc = unsafe { ffi::MPI_Get_count(&status, ffi::RSMPI_UINT8_T, &mut n) };
            assert_eq!(rc, 0, "MPI_Get_count failed");
            let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
            // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
            let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
            // SAFETY: `buf` has room for the `n` bytes of the matched message; it is moved into
            // `control_in` (its heap buffer does not move) and not touched until the request
            // completes. `message` came from MPI_Improbe above.
            let rc = unsafe {
                ffi::MPI_Imrecv(
                    buf.as_mut_ptr() as *mut c_void,
                    n,
                    ffi::RSMPI_UINT8_T,
                    &mut message,
                    &mut request,
                )
            };
            assert_eq!(rc, 0, "MPI_Imrecv failed");
            self.control_in
                .push_back((request, status.MPI_SOURCE as u32, buf));
        }
        while let Some((request, _, _)) = self.control_in.front_mut() {
            if !test(request) {
                break;
            }
            let (_, source, buf) = self.control_in.pop_front().expect("front exists");
            active = true;
            let bytes = buf.len();
            self.inbox.control(source, buf);
            shared.stats.received(bytes);
        }
        active
    }

    /// Step 2a: keeps the receives of the next `PREPOST` expected small values posted, in key
    /// order. A value then lands in its buffer while the rank computes, and taking it is one
    /// test; a message whose receive is not posted yet waits in MPI's unexpected queue.
    ///
    /// Key order cannot deadlock: a key is its producer's global index, and spawn order is
    /// topological, so a value only ever depends on values with smaller keys. The smallest
    /// key still in flight anywhere therefore depends on nothing undelivered, its producer
    /// runs and sends it, and it is the smallest outstanding key of its receiver too, so
    /// inside that receiver's window. A key that `MPI_Improbe` (step 2b) took before its
    /// turn is skipped.
    fn prepost(&mut self) -> bool {
        let mut active = false;
        while self.preposted < PREPOST {
            let Some(x) = self.upcoming.pop_front() else {
                break;
            };
            if self.probed.remove(&x.key) {
                continue;
            }
            active = true;
            let (buf, ptr) = RecvBuf::for_type(&x.ty);
            // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
            let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
            // SAFETY: `ptr` has capacity for the value's elements of the matching MPI type;
            // the Vec is moved into `recvs` (moving a Vec does not move its heap buffer) and
            // not touched until the request completes. `comm` is a valid communicator.
            let rc = unsafe {
                ffi::MPI_Irecv(
                    ptr,
                    count(x.ty.len()),
                    datatype(x.ty.dtype()),
                    x.source as c_int,
                    x.key as c_int,
                    self.comm,
                    &mut request,
                )
            };
            assert_eq!(rc, 0, "MPI_Irecv failed");
            self.preposted += 1;
            self.recv_reqs.push(request);
            self.recvs.push(PendingRecv {
                key: x.key,
                source: x.source,
                start_ns: None,
                ty: x.ty,
                buf,
            });
        }
        active
    }

    /// Step 2b: matches incoming values that no posted receive covers and posts their
    /// receives. Needed only while a large value is still to come: small ones arrive in their
    /// pre-posted receives (step 2a), so once every large value is matched no probe is made
    /// (it was a tenth of a worker's time in Task Bench's finest runs). A small value probed
    /// before its receive was posted is taken here and skipped there.
    ///
    /// While the scheduler is paused (`Shared::paused`, a checkpoint) it probes for every
    /// value: the key-order argument of step 2a needs producers that run, and a paused rank
    /// runs none. A small value beyond its receiver's window, sent just before the pause,
    /// would otherwise sit unmatched in MPI's unexpected queue until the smaller keys came,
    /// which only a resumed producer makes, while the checkpoint's quiesce step waited for
    /// that very message before resuming anything: the stall of a resumed Life run (issue
    /// 21, `../shared/repro/resume-hang`).
    fn match_values(&mut self, shared: &Shared) -> bool {
        let mut active = false;
        while self.probe_left > 0 || shared.paused.load(Ordering::Acquire) {
            let Some((mut message, status)) = improbe(self.comm) else {
                break;
            };
            active = true;
            let start_ns = self.tracer.now();
            let key = status.MPI_TAG as u32;
            let ty = self.inbox.expected(key).unwrap_or_else(|| {
                panic!(
                    "received a value nobody expects (key {key} from rank {})",
                    status.MPI_SOURCE
                )
            });
            if ty.bytes() < LARGE {
                self.probed.insert(key);
            } else {
                self.probe_left -= 1;
            }
            let (buf, ptr) = RecvBuf::for_type(&ty);
            // SAFETY: MPI_REQUEST_NULL is an initialised extern static.
            let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
            // SAFETY: `ptr` has capacity for the value's elements of the matching MPI type;
            // the Vec is moved into `recvs` (moving a Vec does not move its heap buffer) and
            // not touched until the request completes. `message` came from MPI_Improbe above.
            let rc = unsafe {
                ffi::MPI_Imrecv(
                    ptr,
                    count(ty.len()),
                    datatype(ty.dtype()),
                    &mut message,
                    &mut request,
                )
            };
            assert_eq!(rc, 0, "MPI_Imrecv failed");
            self.recv_reqs.push(request);
            self.recvs.push(PendingRecv {
                key,
                source: status.MPI_SOURCE as u32,
                start_ns: Some(start_ns),
                ty,
                buf,
            });
        }
        active
    }

    /// Step 3: completes requests (one MPI_Testsome per list, so a long list costs one call)
    /// and hands received values to the inbox.
    fn complete(&mut self, shared: &Shared) -> Turn {
        let mut turn = Turn::default();
        let mut done = std::mem::take(&mut self.done);
        completed(&mut self.recv_reqs, &mut done);
        for &i in &done {
            let i = i as usize;
            self.recv_reqs.swap_remove(i);
            let r = self.recvs.swap_remove(i);
            self.received += 1;
            turn.active = true;
            let start_ns = match r.start_ns {
                Some(t) => t,
                None => {
                    // A pre-posted receive: its slot in the window (step 2a) is free again.
                    self.preposted -= 1;
                    self.tracer.now()
                }
            };
            let value = finish_recv(r.buf, r.ty);
            let bytes = value.bytes();
            self.tracer
                .record(r.source, Direction::Recv, r.key, bytes, start_ns);
            self.inbox.deliver(r.key, value);
            // Counted once delivered, so a checkpoint that sees every message received also
            // sees every value in its slot.
            shared.stats.received(bytes);
            turn.delivered = true;
        }
        // A value just readied a task on the thread running this turn: let it go and complete
        // sends next turn (unless many are in flight, so posting never waits on this).
        if turn.delivered && self.send_reqs.len() < MAX_IN_FLIGHT / 2 {
            self.done = done;
            return turn;
        }
        completed(&mut self.send_reqs, &mut done);
        for &i in &done {
            let i = i as usize;
            self.send_reqs.swap_remove(i);
            let s = self.sends.swap_remove(i);
            self.tracer
                .record(s.dest, Direction::Send, s.key, s.value.bytes(), s.start_ns);
            turn.active = true;
        }
        completed(&mut self.control_reqs, &mut done);
        for &i in &done {
            let i = i as usize;
            self.control_reqs.swap_remove(i);
            self.control_bufs.swap_remove(i);
            turn.active = true;
        }
        self.done = done;
        turn
    }

    /// One turn: steps 1, 4, 2a, 2b and 3, in that order. Completing and delivering values
    /// comes last (receives are re-posted before it), so a turn that readies a task on this
    /// thread returns to it at once. The probe of step 4 also drives MPI's progress engine
    /// before step 3 tests the receives: Open MPI's `MPI_Testsome` that finds nothing
    /// complete runs progress and returns without looking again, so a value that landed
    /// during the turn would otherwise be seen one turn later (moving the probe after the
    /// test made the 2-rank weak Life run slower, benches/HISTORY.md, "Scaling", seventh session).
    fn turn(&mut self, shared: &Shared) -> Turn {
        let posted = self.post(shared);
        let control = self.receive_control(shared);
        let preposted = self.prepost();
        let matched = self.match_values(shared);
        let mut turn = self.complete(shared);
        turn.active |= posted || control || preposted || matched;
        turn
    }

    /// Every send has completed, nothing is queued, and every expected value has arrived.
    fn drained(&self, shared: &Shared) -> bool {
        self.sends.is_empty()
            && self.control_bufs.is_empty()
            && self.control_in.is_empty()
            && self.backlog.is_empty()
            && self.received == self.expected
            && shared.queue.lock().expect("send queue lock").is_empty()
            && shared
                .control
                .lock()
                .expect("control queue lock")
                .is_empty()
    }
}

fn progress_loop(shared: &Shared, inbox: &dyn Inbox, counts: &mut Counts) {
    let mut loops = 0u32;
    let mut idle_since: Option<Instant> = None;
    loop {
        let closing = shared.closing.load(Ordering::Acquire);
        // What the backoff needs (asked only after an idle turn), and whether the close may
        // end the loop (asked only when closing): both walk lists or take the queue locks.
        let (turn, drained, waiting, moving_large) = {
            let mut engine = shared.engine.lock().expect("engine lock");
            let e = engine.as_mut().expect("the engine lives until finish");
            let turn = e.turn(shared);
            let drained = closing && e.drained(shared);
            // After a busy turn the loop goes round again at once and reads neither.
            let (waiting, moving_large) = if turn.active {
                (true, true)
            } else {
                (e.waiting() || e.moving_large_control(), e.moving_large())
            };
            (turn, drained, waiting, moving_large)
        };
        // A delivery usually wakes a worker; when ranks share cores (more threads than
        // cores) it may be waiting for this very core, so offer it before spinning on.
        if turn.delivered {
            thread::yield_now();
        }
        if drained && counts.settle() {
            return;
        }
        // 5. Progress counts, looking at the clock when idle or every 64th busy turn.
        loops = loops.wrapping_add(1);
        if !turn.active || loops % 64 == 0 {
            counts.tick(Instant::now());
        }
        // 6. Back off when idle.
        if turn.active {
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert_with(Instant::now);
        let idle = since.elapsed();
        // Every worker is running tasks or polling (`Inbox::attentive`): they pick up
        // arrivals themselves as soon as they run out of tasks (what arrives could not start
        // sooner), so this thread only looks in now and then, and never spins or yields on a
        // core a worker needs.
        let covered = inbox.attentive();
        // Alone, nothing moves: only the progress counts are due (and the close, which wakes
        // this thread).
        if counts.link.ranks == 1 && !closing {
            thread::park_timeout(TICK);
            continue;
        }
        if !covered && idle < Duration::from_micros(20) {
            std::hint::spin_loop();
        } else if !covered && idle < Duration::from_micros(200) {
            thread::yield_now();
        } else {
            let urgent = waiting || closing || shared.control_soon.load(Ordering::Relaxed);
            let expected = shared.control_expected.load(Ordering::Relaxed);
            thread::park_timeout(if covered && !moving_large {
                attended_park(shared, expected)
            } else if urgent {
                Duration::from_micros(50)
            } else if expected {
                Duration::from_micros(500)
            } else {
                Duration::from_millis(2)
            });
        }
    }
}

/// How long the idle progress thread parks while every worker attends. While control
/// messages are expected (`control_expected`), a peer's steal request (or a stolen task's
/// result, which lets the peer steal more) waits for whoever polls next: workers between
/// tasks poll about every millisecond, but not during a long task.
fn attended_park(shared: &Shared, control_expected: bool) -> Duration {
    if !control_expected {
        return ATTENDED_PARK;
    }
    let now = shared.epoch.elapsed().as_micros() as u64;
    let last = shared.last_poll_us.load(Ordering::Relaxed);
    if now.saturating_sub(last) <= 2 * STEALING_PARK.as_micros() as u64 {
        STEALING_PARK_POLLED
    } else {
        STEALING_PARK
    }
}

/// A hook for the failure-injection tests: `DIRK_TEST_FAULT=drop-value:R:K` makes rank R drop
/// the value with key K instead of sending it (the run then stalls, and must say so). Unset in
/// normal runs.
fn injected_drop(rank: u32) -> Option<u32> {
    let spec = std::env::var("DIRK_TEST_FAULT").ok()?;
    let mut it = spec.split(':');
    if it.next()? != "drop-value" || it.next()?.parse::<u32>().ok()? != rank {
        return None;
    }
    it.next()?.parse().ok()
}

/// True once the request has completed.
fn test(request: &mut ffi::MPI_Request) -> bool {
    let mut flag: c_int = 0;
    // SAFETY: `request` is a live request handle; STATUS_IGNORE is an initialised constant.
    let rc = unsafe { ffi::MPI_Test(request, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
    assert_eq!(rc, 0, "MPI_Test failed");
    flag != 0
}

/// Matches one arrived message from any source with any tag (`MPI_Improbe`), if there is one.
fn improbe(comm: ffi::MPI_Comm) -> Option<(ffi::MPI_Message, ffi::MPI_Status)> {
    let mut flag: c_int = 0;
    // SAFETY: MPI_MESSAGE_NULL is an initialised extern static; the zeroed status is a plain C
    // struct that MPI fills in.
    let mut message = unsafe { ffi::RSMPI_MESSAGE_NULL };
    let mut status: ffi::MPI_Status = unsafe { std::mem::zeroed() };
    // SAFETY: all pointers refer to live locals; `comm` is a valid communicator.
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
    (flag != 0).then_some((message, status))
}

/// Fills `done` with the indices of the requests that have completed, in decreasing order (so
/// the caller can `swap_remove` them one by one). `done` is the engine's scratch list, reused
/// from turn to turn so that polling allocates nothing.
fn completed(requests: &mut [ffi::MPI_Request], done: &mut Vec<c_int>) {
    done.clear();
    if requests.is_empty() {
        return;
    }
    done.resize(requests.len(), 0);
    let mut outcount: c_int = 0;
    // SAFETY: `requests` holds `len` live request handles and `done` has room for `len`
    // entries; STATUSES_IGNORE is an initialised constant.
    let rc = unsafe {
        ffi::MPI_Testsome(
            requests.len() as c_int,
            requests.as_mut_ptr(),
            &mut outcount,
            done.as_mut_ptr(),
            ffi::RSMPI_STATUSES_IGNORE,
        )
    };
    assert_eq!(rc, 0, "MPI_Testsome failed");
    done.truncate(usize::try_from(outcount).unwrap_or(0)); // MPI_UNDEFINED (< 0): none active
    done.sort_unstable_by(|a, b| b.cmp(a));
}

fn finish_recv(buf: RecvBuf, ty: ValueType) -> Value {
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
        ValueType::Array { shape, .. } => Value::Array(Array::new(shape, data)),
    }
}

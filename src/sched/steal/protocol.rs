//! The stealing protocol of one rank as a state machine (the steps and the termination rule
//! are in `steal/mod.rs`). It holds what the rank knows of the protocol — its peers' loads,
//! `OwnDone`s, `NoMore`s and `Fin`s, its outstanding request and backoff, the stolen tasks
//! in hand, its own given tasks whose results are still to come — and decides; it runs
//! nothing and sends nothing. The executor feeds it events (`Proto::on`) and carries out the
//! `Action`s it returns, so the victim, thief and owner sides never call back into the
//! executor's completion.
//!
//! The executor keeps one `Proto` behind a mutex and obeys two rules:
//!
//! 1. **Messages in order, under the lock.** The actions that send (`Send`, `Broadcast`) or
//!    tell the transport something (`ControlExpected`, `ExpectControlSoon`) are carried out
//!    before the lock is released, in the order returned. So the order in which the machine
//!    decides messages is the order they leave: `OwnDone` before `Fin`, `Fin` last, and a
//!    `ControlExpected` never overwritten by a staler one. (`Executor::pause` passes through
//!    the lock, so no request decided before a pause leaves after it.)
//! 2. **Work after the lock.** `Give`, `Run`, `Complete`, `Ring` and `End` are carried out
//!    after it is released, in order; each may feed the machine again (a give reports
//!    `Given` and perhaps `Dry`, a stolen task run reports `StolenDone`).
//!
//! A third duty is the pause for a checkpoint: the machine keeps what came while the rank was
//! paused (`admit`, `next_deferred`), and the executor replays it on resume, in order.

use super::wire::{Msg, WireTask, WireValue};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Shortest and longest wait after an empty reply.
const BACKOFF_MIN: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_millis(64);

/// The steal thread sleeps at most this long while it waits for a worker to run dry or for
/// a reply (both ring its bell; this only bounds a missed ring).
pub(crate) const NAP_FALLBACK: Duration = Duration::from_millis(20);
/// The steal thread's nap once no peer is worth asking; the end rings it sooner.
pub(crate) const NAP_IDLE: Duration = Duration::from_secs(1);
/// The steal thread's nap while the rank is paused or failing.
pub(crate) const NAP_RECHECK: Duration = Duration::from_millis(1);

/// What the executor tells the machine.
#[derive(Debug)]
pub(crate) enum Event {
    /// A control message from peer `src`.
    Message(u32, Msg<'static>),
    /// The run started with tasks a peer could take (else `Dry` comes instead).
    Started,
    /// Every own task is complete and every expected value here.
    ShareDone,
    /// A stolen task ran here and its `Result` went to its owner (or it failed).
    StolenDone,
    /// The victim side put `n` own tasks in a reply.
    Given(usize),
    /// No own task can be handed over any more (every movable one started or was given).
    Dry,
}

/// What the machine asks the executor to do (rule 1: the first four under the lock).
#[derive(Debug)]
pub(crate) enum Action {
    /// Send `msg` to one peer.
    Send(u32, Msg<'static>),
    /// Send `msg` to every peer.
    Broadcast(Msg<'static>),
    /// Tell the transport whether a control message may need a prompt answer.
    ControlExpected(bool),
    /// Only `Fin`s (and answers to late requests) are left to come: pick them up at once.
    ExpectControlSoon,
    /// Victim: take at most `want` tasks for `thief` out of the ready queue and reply.
    Give { thief: u32, want: u32 },
    /// Thief: queue `owner`'s tasks and run them; each one's `Result` goes back to `owner`,
    /// and each then reports `StolenDone`.
    Run {
        owner: u32,
        tasks: Vec<WireTask<'static>>,
    },
    /// Owner: complete own task `task` with a thief's result, which ran `run_ns`.
    Complete {
        task: u32,
        run_ns: u64,
        value: WireValue<'static>,
    },
    /// Wake the steal thread.
    Ring,
    /// This rank's run is over.
    End,
}

impl Action {
    /// Carried out under the protocol's lock, in order (rule 1).
    pub(crate) fn under_lock(&self) -> bool {
        matches!(
            self,
            Action::Send(..)
                | Action::Broadcast(_)
                | Action::ControlExpected(_)
                | Action::ExpectControlSoon
        )
    }
}

/// Work put off while a checkpoint pauses the rank.
pub(crate) enum Deferred {
    /// A control message from a peer: (source, bytes).
    Control(u32, Vec<u8>),
    /// This rank's share got done: tell the peers (`OwnDone`).
    OwnDone,
}

/// `Proto::admit`'s verdict on steal work (a message, the rank's `OwnDone`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Admit {
    /// Handle it now.
    Now,
    /// Queued for the resume (the rank is paused, or earlier work still waits).
    Later,
    /// The pause ended between the caller's two looks with nothing queued: ask again.
    Again,
}

/// Counts for the run's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    /// Requests this rank sent.
    pub requests: u64,
    /// Of those, the ones answered with tasks.
    pub successes: u64,
    /// Own tasks this rank gave to thieves.
    pub given: u64,
}

/// The protocol state of one rank.
pub(crate) struct Proto {
    me: u32,
    /// Peers that said `OwnDone` (this rank counts as one).
    peer_done: Vec<bool>,
    /// Peers that said `NoMore`: nothing of theirs can move any more (this rank counts as
    /// one, like in `peer_done`).
    peer_dry: Vec<bool>,
    /// Last load each peer reported.
    loads: Vec<Option<u64>>,
    /// The peer asked, while a request is outstanding.
    outstanding: Option<u32>,
    /// Stolen tasks in hand (queued or running here, result not yet sent).
    in_hand: usize,
    /// Own tasks given to thieves whose `Result` has not come back.
    awaited: usize,
    /// This rank has nothing more to give (`NoMore` sent).
    dry: bool,
    own_done: bool,
    fin_sent: bool,
    fins: u32,
    next_try: Instant,
    backoff: Duration,
    rotate: u32,
    /// What came during a checkpoint's pause, in order, handled when the run resumes (a
    /// paused rank hands out and sends nothing): messages, and this rank's `OwnDone`.
    deferred: VecDeque<Deferred>,
    /// The resume is replaying `deferred`: what comes meanwhile queues behind it, so the
    /// messages of a peer are still handled in the order sent.
    replaying: bool,
    pub(crate) counts: Counts,
}

impl Proto {
    /// Rank `me` of `ranks`, before the run.
    pub(crate) fn new(me: u32, ranks: u32) -> Proto {
        let mut peer_done = vec![false; ranks as usize];
        peer_done[me as usize] = true;
        Proto {
            me,
            peer_dry: peer_done.clone(),
            peer_done,
            loads: vec![None; ranks as usize],
            outstanding: None,
            in_hand: 0,
            awaited: 0,
            dry: false,
            own_done: false,
            fin_sent: false,
            fins: 0,
            next_try: Instant::now(),
            backoff: BACKOFF_MIN,
            rotate: me,
            deferred: VecDeque::new(),
            replaying: false,
            counts: Counts::default(),
        }
    }

    /// Takes in `ev` at time `now`; returns what the executor must do, in order.
    pub(crate) fn on(&mut self, ev: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match ev {
            Event::Message(src, msg) => self.on_message(src, msg, now, &mut out),
            Event::Started => out.push(self.control_expected()),
            Event::ShareDone => {
                self.own_done = true;
                out.push(Action::Broadcast(Msg::OwnDone));
                self.end_check(&mut out);
            }
            Event::StolenDone => {
                self.in_hand = self
                    .in_hand
                    .checked_sub(1)
                    .expect("a stolen task done is one in hand");
                self.end_check(&mut out);
            }
            Event::Given(n) => {
                self.awaited += n;
                self.counts.given += n as u64;
            }
            Event::Dry if !self.dry => {
                // The peers stop asking; and unless a result or a reply is to come, no
                // control message needs a prompt answer (the transport's helper may park
                // long: asking costs each rank of a balanced job wake-ups and round trips
                // that cannot get work).
                self.dry = true;
                out.push(Action::Broadcast(Msg::NoMore));
                out.push(self.control_expected());
            }
            Event::Dry => {}
        }
        out
    }

    fn on_message(&mut self, src: u32, msg: Msg<'static>, now: Instant, out: &mut Vec<Action>) {
        let p = src as usize;
        match msg {
            Msg::Request { want, load } => {
                self.loads[p] = Some(load);
                out.push(Action::Give { thief: src, want });
            }
            Msg::Reply { load, tasks } => {
                let n = tasks.len();
                self.loads[p] = Some(load);
                self.in_hand += n;
                self.replied(n, now);
                out.push(self.control_expected());
                if n > 0 {
                    self.counts.successes += 1;
                    out.push(Action::Run { owner: src, tasks });
                }
                // Rung once the stolen tasks are queued (so the steal thread counts them):
                // after a full reply it may ask again at once; after an empty one it sleeps
                // through its backoff.
                out.push(Action::Ring);
                self.end_check(out);
            }
            Msg::Result {
                task,
                run_ns,
                value,
            } => {
                self.awaited = self
                    .awaited
                    .checked_sub(1)
                    .expect("a result comes only for a task given away");
                if self.awaited == 0 {
                    out.push(self.control_expected());
                }
                // The owner kept the inputs until now, so a checkpoint taken meanwhile
                // still has them; completing releases them.
                out.push(Action::Complete {
                    task,
                    run_ns,
                    value,
                });
            }
            Msg::NoMore => self.peer_dry[p] = true,
            Msg::OwnDone => {
                self.peer_done[p] = true;
                self.end_check(out);
            }
            Msg::Fin => {
                self.fins += 1;
                self.end_check(out);
            }
        }
    }

    /// Whether a control message may need a prompt answer: while this rank has tasks a peer
    /// could take, awaits a given task's result, or awaits a reply.
    fn control_expected(&self) -> Action {
        Action::ControlExpected(!self.dry || self.awaited > 0 || self.outstanding.is_some())
    }

    /// The termination rule: `Fin` once this rank has nothing more to do or ask, the end
    /// once every peer's `Fin` is in too.
    fn end_check(&mut self, out: &mut Vec<Action>) {
        if self.own_done && self.peer_done.iter().all(|&d| d) {
            out.push(Action::ExpectControlSoon);
        }
        if self.ready_to_fin() {
            out.push(Action::Broadcast(Msg::Fin));
        }
        if self.ended() {
            out.push(Action::End);
        }
    }

    /// True when this rank should send `Fin` now (and records that it did).
    fn ready_to_fin(&mut self) -> bool {
        if !self.fin_sent
            && self.own_done
            && self.peer_done.iter().all(|&d| d)
            && self.outstanding.is_none()
            && self.in_hand == 0
        {
            self.fin_sent = true;
            return true;
        }
        false
    }

    /// True once the rank may end: its `Fin` sent and every peer's received.
    fn ended(&self) -> bool {
        self.fin_sent && self.fins as usize + 1 == self.peer_done.len()
    }

    /// The thief side, before the steal thread looks at its load: how long to sleep instead
    /// when asking is not possible now (a request is out, no peer is worth asking, or the
    /// backoff after an empty reply runs).
    pub(crate) fn nap_before_asking(&self, now: Instant) -> Option<Duration> {
        if self.outstanding.is_some() {
            return Some(NAP_FALLBACK);
        }
        if !self.any_victim() {
            // Every peer is done or has nothing to hand over (`NoMore`), for good: sleep
            // until the end rings (a balanced Life run's steal thread then no longer wakes
            // each time a worker runs dry).
            return Some(NAP_IDLE);
        }
        (now < self.next_try).then(|| self.next_try - now)
    }

    /// The thief side: a rank with `queued` tasks in hand, fewer than its `threads`, asks
    /// the peer it believes most loaded for the difference. No actions when no peer is worth
    /// asking.
    pub(crate) fn ask(&mut self, queued: usize, threads: usize) -> Vec<Action> {
        let Some(victim) = self.pick_victim() else {
            return Vec::new();
        };
        self.outstanding = Some(victim);
        self.counts.requests += 1;
        vec![
            self.control_expected(),
            Action::Send(
                victim,
                Msg::Request {
                    want: (threads - queued) as u32,
                    load: queued as u64,
                },
            ),
        ]
    }

    /// Some peer is still worth asking (not done, not dry). Once none is, none will be.
    fn any_victim(&self) -> bool {
        (0..self.peer_done.len()).any(|p| p != self.me as usize && self.worth_asking(p))
    }

    /// Peer `p` has neither said `OwnDone` nor `NoMore`.
    fn worth_asking(&self, p: usize) -> bool {
        !self.peer_done[p] && !self.peer_dry[p]
    }

    /// The peer to ask now, if any: the most loaded by last report (unknown: most), ties
    /// rotating; never one done or dry.
    fn pick_victim(&mut self) -> Option<u32> {
        let n = self.peer_done.len() as u32;
        let mut best: Option<(u64, u32)> = None;
        for k in 1..=n {
            let p = (self.rotate + k) % n;
            if p == self.me || !self.worth_asking(p as usize) {
                continue;
            }
            let load = self.loads[p as usize].unwrap_or(u64::MAX);
            if best.is_none_or(|(l, _)| load > l) {
                best = Some((load, p));
            }
        }
        let (_, p) = best?;
        self.rotate = p;
        Some(p)
    }

    /// After a reply: wait before asking again when it was empty.
    fn replied(&mut self, got: usize, now: Instant) {
        self.outstanding = None;
        if got == 0 {
            self.next_try = now + self.backoff;
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        } else {
            self.backoff = BACKOFF_MIN;
            self.next_try = now;
        }
    }

    /// Whether steal work (a message, this rank's `OwnDone`) may be handled now. `entered`:
    /// the pause gate let the caller in (`PauseGate::try_handle`); `paused`: the gate's hint,
    /// read by the caller while it holds this machine's lock, which the resume also takes
    /// after it clears the pause, so what is queued here is replayed. Work is queued
    /// (`later`) while the rank is paused and while earlier work still waits, so a peer's
    /// messages are handled in the order sent.
    pub(crate) fn admit(
        &mut self,
        entered: bool,
        paused: bool,
        later: impl FnOnce() -> Deferred,
    ) -> Admit {
        let waiting = self.replaying || !self.deferred.is_empty();
        if entered && !waiting {
            return Admit::Now;
        }
        if waiting || paused {
            self.deferred.push_back(later());
            return Admit::Later;
        }
        Admit::Again
    }

    /// The resume begins replaying what the pause deferred.
    pub(crate) fn start_replay(&mut self) {
        self.replaying = true;
    }

    /// The next deferred work to replay, in order; `None` ends the replay.
    pub(crate) fn next_deferred(&mut self) -> Option<Deferred> {
        let next = self.deferred.pop_front();
        if next.is_none() {
            self.replaying = false;
        }
        next
    }

    /// Work deferred by a pause and not replayed yet.
    #[cfg(test)]
    pub(crate) fn deferred_len(&self) -> usize {
        self.deferred.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The actions in short form: `Send(1, Request { want: 2, load: 0 })`, `Broadcast(Fin)`.
    fn show(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                Action::Run { owner, tasks } => format!("Run({owner}, {} tasks)", tasks.len()),
                Action::Complete { task, .. } => format!("Complete({task})"),
                a => format!("{a:?}"),
            })
            .collect()
    }

    fn msg(p: &mut Proto, src: u32, m: Msg<'static>) -> Vec<String> {
        show(&p.on(Event::Message(src, m), Instant::now()))
    }

    fn ev(p: &mut Proto, e: Event) -> Vec<String> {
        show(&p.on(e, Instant::now()))
    }

    fn ask(p: &mut Proto, queued: usize, threads: usize) -> Vec<String> {
        show(&p.ask(queued, threads))
    }

    /// A reply of `n` stolen tasks (their content does not matter to the machine).
    fn reply(load: u64, n: usize) -> Msg<'static> {
        let tasks = (0..n as u32)
            .map(|t| WireTask {
                task: t,
                key: 100 + t,
                id: format!("t{t}"),
                op: crate::graph::Op::new(crate::kernels::Add),
                args: Vec::new(),
            })
            .collect();
        Msg::Reply { load, tasks }
    }

    fn result(task: u32) -> Msg<'static> {
        Msg::Result {
            task,
            run_ns: 5,
            value: WireValue::Scalar(1.0),
        }
    }

    #[test]
    fn victim_choice_prefers_the_most_loaded_and_skips_done_and_dry_peers() {
        let mut p = Proto::new(0, 4);
        p.loads = vec![None, Some(3), Some(9), Some(1)];
        assert_eq!(p.pick_victim(), Some(2));
        p.peer_done[2] = true;
        assert_eq!(p.pick_victim(), Some(1));
        // A dry peer (`NoMore`) is skipped like a done one.
        msg(&mut p, 1, Msg::NoMore);
        assert_eq!(p.pick_victim(), Some(3));
        assert!(p.any_victim());
        msg(&mut p, 3, Msg::OwnDone);
        assert!(!p.any_victim(), "done or dry, nobody is worth asking");
        assert_eq!(p.pick_victim(), None);
        assert_eq!(p.nap_before_asking(Instant::now()), Some(NAP_IDLE));
        assert!(ask(&mut p, 0, 1).is_empty(), "no request to nobody");
    }

    /// Unknown loads count as most loaded, and ties rotate among the peers.
    #[test]
    fn unknown_peers_are_asked_in_turn() {
        let mut p = Proto::new(1, 3);
        let mut asked = Vec::new();
        for _ in 0..4 {
            let a = p.ask(0, 2);
            let Some(Action::Send(v, Msg::Request { want: 2, load: 0 })) = a.get(1) else {
                panic!("a request: {:?}", show(&a))
            };
            asked.push(*v);
            // An empty reply, and the backoff passed.
            msg(
                &mut p,
                *v,
                Msg::Reply {
                    load: 0,
                    tasks: Vec::new(),
                },
            );
            p.next_try = Instant::now();
            p.loads = vec![None; 3];
        }
        assert_eq!(asked, vec![2, 0, 2, 0]);
        assert_eq!(p.counts.requests, 4);
        assert_eq!(p.counts.successes, 0);
    }

    /// One request at a time; an empty reply backs off (doubling), a full one resets it and
    /// hands the tasks to the executor to run, then rings the steal thread.
    #[test]
    fn a_thief_asks_once_and_backs_off_after_an_empty_reply() {
        let mut p = Proto::new(0, 2);
        let t0 = Instant::now();
        assert_eq!(p.nap_before_asking(t0), None);
        assert_eq!(
            ask(&mut p, 1, 4),
            [
                "ControlExpected(true)",
                "Send(1, Request { want: 3, load: 1 })"
            ]
        );
        assert_eq!(
            p.nap_before_asking(t0),
            Some(NAP_FALLBACK),
            "one request at a time"
        );
        let got = show(&p.on(Event::Message(1, reply(7, 0)), t0));
        assert_eq!(got, ["ControlExpected(true)", "Ring"]);
        assert_eq!(p.nap_before_asking(t0), Some(BACKOFF_MIN));
        p.ask(0, 1);
        p.on(Event::Message(1, reply(7, 0)), t0);
        assert_eq!(p.nap_before_asking(t0), Some(2 * BACKOFF_MIN), "doubling");
        p.next_try = t0;
        p.ask(0, 1);
        let got = show(&p.on(Event::Message(1, reply(5, 2)), t0));
        assert_eq!(got, ["ControlExpected(true)", "Run(1, 2 tasks)", "Ring"]);
        assert_eq!(
            p.nap_before_asking(t0),
            None,
            "a full reply resets the backoff"
        );
        assert_eq!(p.backoff, BACKOFF_MIN);
        assert_eq!(p.loads[1], Some(5));
        assert_eq!(p.counts.successes, 1);
    }

    /// A request is answered by giving (the executor takes the tasks); the owner then awaits
    /// their results and completes each. Until the last result is back the transport keeps
    /// answering promptly, even once the rank is dry.
    #[test]
    fn an_owner_awaits_the_results_of_what_it_gave() {
        let mut p = Proto::new(0, 2);
        assert_eq!(
            msg(&mut p, 1, Msg::Request { want: 2, load: 0 }),
            ["Give { thief: 1, want: 2 }"]
        );
        assert_eq!(p.loads[1], Some(0));
        assert!(ev(&mut p, Event::Given(2)).is_empty());
        assert_eq!(
            ev(&mut p, Event::Dry),
            ["Broadcast(NoMore)", "ControlExpected(true)"],
            "dry, but two results are still to come"
        );
        assert!(ev(&mut p, Event::Dry).is_empty(), "NoMore goes out once");
        assert_eq!(msg(&mut p, 1, result(4)), ["Complete(4)"]);
        assert_eq!(
            msg(&mut p, 1, result(5)),
            ["ControlExpected(false)", "Complete(5)"]
        );
        assert_eq!(p.counts.given, 2);
    }

    /// The termination rule on two ranks: `OwnDone` on both sides, then `Fin` on both, then
    /// the end; the order in which the peer's messages come does not matter.
    #[test]
    fn two_ranks_end_by_own_done_and_fin() {
        // The peer's OwnDone first.
        let mut p = Proto::new(0, 2);
        assert!(msg(&mut p, 1, Msg::OwnDone).is_empty());
        assert_eq!(
            ev(&mut p, Event::ShareDone),
            ["Broadcast(OwnDone)", "ExpectControlSoon", "Broadcast(Fin)"]
        );
        assert_eq!(msg(&mut p, 1, Msg::Fin), ["ExpectControlSoon", "End"]);
        // This rank's share first; the peer's Fin may overtake nothing: it follows its
        // OwnDone on the same communicator.
        let mut p = Proto::new(1, 2);
        assert_eq!(ev(&mut p, Event::ShareDone), ["Broadcast(OwnDone)"]);
        assert_eq!(
            msg(&mut p, 0, Msg::OwnDone),
            ["ExpectControlSoon", "Broadcast(Fin)"]
        );
        assert_eq!(msg(&mut p, 0, Msg::Fin), ["ExpectControlSoon", "End"]);
    }

    /// A race of the termination rule: this rank's share is done and its peer's `OwnDone`
    /// crosses its request; `Fin` waits for the reply (a rank that sent `Fin` sends nothing
    /// but replies).
    #[test]
    fn fin_waits_for_the_reply_to_an_outstanding_request() {
        let mut p = Proto::new(0, 2);
        ask(&mut p, 0, 1);
        assert!(msg(&mut p, 1, Msg::OwnDone).is_empty());
        assert_eq!(
            ev(&mut p, Event::ShareDone),
            ["Broadcast(OwnDone)", "ExpectControlSoon"],
            "no Fin while a request is out"
        );
        assert_eq!(
            msg(&mut p, 1, reply(0, 0)),
            [
                "ControlExpected(true)",
                "Ring",
                "ExpectControlSoon",
                "Broadcast(Fin)"
            ]
        );
        assert_eq!(msg(&mut p, 1, Msg::Fin), ["ExpectControlSoon", "End"]);
    }

    /// A race of the termination rule: a stolen task's `Result` reaches its owner, which
    /// completes its share and says `OwnDone` (and its peers `Fin`) before this rank's worker
    /// reports the task done; `Fin` and the end wait for that report.
    #[test]
    fn fin_waits_for_the_stolen_tasks_in_hand() {
        let mut p = Proto::new(0, 3);
        p.loads = vec![None, Some(0), Some(10)];
        assert_eq!(
            ask(&mut p, 0, 1)[1],
            "Send(2, Request { want: 1, load: 0 })"
        );
        assert_eq!(
            msg(&mut p, 2, reply(0, 1)),
            ["ControlExpected(true)", "Run(2, 1 tasks)", "Ring"]
        );
        assert_eq!(ev(&mut p, Event::ShareDone), ["Broadcast(OwnDone)"]);
        assert!(msg(&mut p, 1, Msg::OwnDone).is_empty());
        assert_eq!(
            msg(&mut p, 2, Msg::OwnDone),
            ["ExpectControlSoon"],
            "no Fin with a stolen task in hand"
        );
        // Both peers end their part meanwhile: their Fins do not end this rank.
        assert_eq!(msg(&mut p, 1, Msg::Fin), ["ExpectControlSoon"]);
        assert_eq!(msg(&mut p, 2, Msg::Fin), ["ExpectControlSoon"]);
        assert_eq!(
            ev(&mut p, Event::StolenDone),
            ["ExpectControlSoon", "Broadcast(Fin)", "End"]
        );
        assert!(!p.ready_to_fin(), "Fin goes out once");
    }

    /// A request that comes after this rank's `Fin` is still answered: only replies may
    /// follow a `Fin`, and every request precedes its asker's `Fin`.
    #[test]
    fn a_late_request_is_answered_after_fin() {
        let mut p = Proto::new(0, 2);
        msg(&mut p, 1, Msg::OwnDone);
        ev(&mut p, Event::ShareDone);
        assert!(p.fin_sent);
        assert_eq!(
            msg(&mut p, 1, Msg::Request { want: 1, load: 0 }),
            ["Give { thief: 1, want: 1 }"]
        );
    }

    /// While paused, steal work is deferred; once anything is deferred, later work queues
    /// behind it even when the gate lets the caller in (a peer's messages stay in order), and
    /// during the replay too; the replay hands it back in order and then ends.
    #[test]
    fn paused_work_is_deferred_and_replayed_in_order() {
        let mut p = Proto::new(0, 2);
        let control = |n: u8| move || Deferred::Control(1, vec![n]);
        assert_eq!(p.admit(true, false, control(0)), Admit::Now);
        assert_eq!(p.admit(false, true, control(1)), Admit::Later);
        assert_eq!(p.admit(false, true, || Deferred::OwnDone), Admit::Later);
        // The pause ended, but earlier work waits: this queues behind it.
        assert_eq!(p.admit(true, false, control(2)), Admit::Later);
        p.start_replay();
        let first = p.next_deferred();
        assert!(matches!(first, Some(Deferred::Control(1, ref b)) if b == &[1]));
        // Comes during the replay: behind the rest.
        assert_eq!(p.admit(true, false, control(3)), Admit::Later);
        let mut order = Vec::new();
        while let Some(d) = p.next_deferred() {
            order.push(match d {
                Deferred::Control(_, b) => i32::from(b[0]),
                Deferred::OwnDone => -1,
            });
        }
        assert_eq!(order, [-1, 2, 3]);
        assert_eq!(p.admit(true, false, control(4)), Admit::Now, "replay over");
        // Not let in by the gate yet not paused: the pause ended between the two looks.
        assert_eq!(p.admit(false, false, control(5)), Admit::Again);
        assert_eq!(p.deferred_len(), 0);
    }

    /// Only the sending actions are carried out under the lock.
    #[test]
    fn messages_go_under_the_lock_and_work_after_it() {
        let under: Vec<bool> = [
            Action::Send(1, Msg::NoMore),
            Action::Broadcast(Msg::Fin),
            Action::ControlExpected(true),
            Action::ExpectControlSoon,
            Action::Give { thief: 1, want: 1 },
            Action::Ring,
            Action::End,
        ]
        .iter()
        .map(Action::under_lock)
        .collect();
        assert_eq!(under, [true, true, true, true, false, false, false]);
    }
}

//! Property tests: random task graphs, planned for 1–4 ranks and run on in-process ranks with
//! 1–3 threads, give the reference evaluator's results bit for bit; every plan places each
//! task exactly once, honours scopes, is deterministic, and its sends match its receives.
//! With cross-rank stealing under random steal decisions and random message delays, every
//! task still runs exactly once and the results are still the reference's; so are they when
//! values wait for the destination's workers to poll (or a delayed delivery thread).

use crate::reference::{evaluate, V};
use dirk::graph::Scope;
use dirk::plan::{self, RankInfo, Source};
use dirk::runtime::{run_in_process, run_in_process_polled, run_in_process_stealing, StealOptions};
use dirk::sched::StealPolicy;
use proptest::prelude::*;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::path::Path;

/// A random graph as a job file's task list: fills, elementwise ops, sums and busy tasks over
/// arrays of one length, in dependency order. Some tasks get a rank scope.
pub(crate) fn random_tasks(recipe: &[(u8, usize, usize, i8, u8)], len: usize) -> Vec<Json> {
    let mut tasks: Vec<Json> = Vec::new();
    let mut is_array: Vec<bool> = Vec::new();
    for (i, &(kind, a, b, val, scope)) in recipe.iter().enumerate() {
        let id = format!("t{i}");
        let pick = |k: usize| format!("t{}", k % i.max(1));
        let value = f64::from(val) * 0.25 + 0.5;
        let mut t = if i < 2 || kind % 7 == 0 {
            is_array.push(true);
            json!({"id": id, "op": "fill", "args": [[len], value]})
        } else {
            let (ra, rb) = (pick(a), pick(b));
            let (aa, ab) = (is_array[a % i], is_array[b % i]);
            match kind % 7 {
                1..=4 => {
                    let op = ["add", "sub", "mul", "div"][(kind % 7 - 1) as usize];
                    let rhs = if kind % 3 == 0 {
                        json!(value)
                    } else {
                        json!(rb)
                    };
                    let rhs_array = kind % 3 != 0 && ab;
                    is_array.push(aa || rhs_array);
                    json!({"id": id, "op": op, "args": [ra, rhs]})
                }
                5 if aa => {
                    is_array.push(false);
                    json!({"id": id, "op": "sum", "args": [ra]})
                }
                _ => {
                    is_array.push(aa);
                    json!({"id": id, "op": "busy", "args": [ra], "params": {"iterations": 100}})
                }
            }
        };
        if scope % 5 == 0 {
            t["scope"] = json!({"rank": u32::from(scope / 5) % 4});
        }
        tasks.push(t);
    }
    tasks
}

fn job_of(tasks: &[Json]) -> dirk::job::Job {
    let job = json!({"dirk": 1, "name": "random", "tasks": tasks});
    dirk::job::from_str(&job.to_string(), "random", Path::new(".")).expect("a valid random job")
}

/// Every output of `job` in `got` (gathered on rank 0) is the reference's, bit for bit.
fn outputs_match(
    job: &dirk::job::Job,
    got: &HashMap<u32, std::sync::Arc<dirk::Value>>,
    expect: &HashMap<String, V>,
) -> Result<(), TestCaseError> {
    for o in job.graph.outputs() {
        let h = job.graph.find(&o.name).unwrap();
        let v = got
            .get(&(h.index() as u32))
            .expect("output gathered on rank 0");
        let flat = match v.as_ref() {
            dirk::Value::Scalar(x) => vec![*x],
            dirk::Value::Array(a) => a.as_f64().unwrap().to_vec(),
        };
        let want: &V = &expect[&o.name];
        prop_assert!(
            same(&flat, &want.flat()),
            "output {} differs: {:?} vs {:?}",
            o.name,
            flat,
            want.flat()
        );
    }
    Ok(())
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

fn recipe() -> impl Strategy<Value = Vec<(u8, usize, usize, i8, u8)>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<usize>(),
            any::<usize>(),
            -8i8..8,
            any::<u8>(),
        ),
        1..40,
    )
}

/// Scopes in the random jobs name ranks 0..3; clamp them to the rank count under test.
fn clamp_scopes(tasks: &mut [Json], ranks: u32) {
    for t in tasks {
        if let Some(r) = t.get("scope").and_then(|s| s["rank"].as_u64()) {
            t["scope"] = json!({"rank": r % u64::from(ranks)});
        }
    }
}

/// A random job from `r` with scopes clamped to `ranks`, and its outputs by the reference
/// evaluator.
fn random_job(
    r: &[(u8, usize, usize, i8, u8)],
    len: usize,
    ranks: u32,
) -> (dirk::job::Job, HashMap<String, V>) {
    let mut tasks = random_tasks(r, len);
    clamp_scopes(&mut tasks, ranks);
    (job_of(&tasks), evaluate(&tasks, &HashMap::new()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn in_process_runs_match_the_reference(r in recipe(), len in 1usize..40, ranks in 1u32..5, threads in 1usize..4) {
        let (job, expect) = random_job(&r, len, ranks);
        let got = run_in_process(&job.graph, ranks, threads).expect("run");
        let outputs = job.graph.outputs();
        prop_assert!(!outputs.is_empty());
        outputs_match(&job, &got, &expect)?;
    }

    #[test]
    fn values_picked_up_by_polling_workers_match_the_reference(r in recipe(), len in 1usize..20, ranks in 2u32..5, threads in 1usize..4, seed in any::<u64>(), delay in 1u64..2000) {
        // Values wait until a worker of the destination polls or its delivery thread comes
        // round after up to `delay` µs: the race the MPI engine has between workers and the
        // progress thread, and the drainer a polling worker does not spawn.
        let (job, expect) = random_job(&r, len, ranks);
        let got = run_in_process_polled(&job.graph, ranks, threads, delay, seed).expect("run");
        outputs_match(&job, &got, &expect)?;
    }

    #[test]
    fn stealing_runs_every_task_exactly_once(r in recipe(), len in 1usize..20, ranks in 2u32..5, threads in 1usize..3, seed in any::<u64>(), delay in 0u64..300) {
        let (job, expect) = random_job(&r, len, ranks);
        let opts = StealOptions { policy: StealPolicy::Random(seed), max_delay_us: delay, seed };
        let run = run_in_process_stealing(&job.graph, ranks, threads, opts).expect("run");
        let mut ran: Vec<u32> = run.ran.iter().flatten().copied().collect();
        ran.sort_unstable();
        let all: Vec<u32> = (0..job.graph.len() as u32).collect();
        prop_assert_eq!(ran, all, "every task ran exactly once");
        // A scoped task ran where its scope says.
        for (rank, keys) in run.ran.iter().enumerate() {
            for &k in keys {
                if let Scope::Rank(want) = job.graph.tasks()[k as usize].scope {
                    prop_assert_eq!(want, rank as u32);
                }
            }
        }
        outputs_match(&job, &run.outputs, &expect)?;
    }

    #[test]
    fn plans_place_every_task_once_and_match_sends_to_receives(r in recipe(), ranks in 1u32..5, threads in 1u32..4) {
        let (job, _) = random_job(&r, 16, ranks);
        let g = &job.graph;
        let infos = vec![RankInfo { threads, gpus: 0 }; ranks as usize];
        let a = plan::assign(g, &infos).unwrap();
        prop_assert_eq!(&a, &plan::assign(g, &infos).unwrap(), "planning is deterministic");
        for (i, t) in g.tasks().iter().enumerate() {
            prop_assert!(a.owner[i] < ranks);
            if let Scope::Rank(r) = t.scope {
                prop_assert_eq!(a.owner[i], r, "scope of {} honoured", t.id);
            }
        }
        let plans = plan::plan(g, &infos).unwrap();
        let total: usize = plans.iter().map(|p| p.tasks.len()).sum();
        prop_assert_eq!(total, g.len(), "every task placed exactly once");
        // Each remote slot on rank r is fed by exactly one send to r from its producer's rank.
        for p in &plans {
            for s in &p.slots {
                if let Source::Remote(src) = s.source {
                    let producer = plans[src as usize].slots.iter()
                        .find(|ps| ps.key == s.key && matches!(ps.source, Source::Local(_)))
                        .expect("producer slot");
                    let Source::Local(lt) = producer.source else { unreachable!() };
                    let sends = plans[src as usize].tasks[lt as usize].send_to.iter().filter(|&&d| d == p.rank).count();
                    prop_assert_eq!(sends, 1);
                }
            }
            // The encoding round-trips.
            prop_assert_eq!(&plan::decode(&plan::encode(p)).unwrap(), p);
        }
    }
}

#[test]
fn chains_stay_on_one_rank_and_independent_chains_spread() {
    // 8 independent chains of 20 busy tasks: the planner keeps each chain whole and spreads
    // the chains over the ranks.
    let mut tasks = Vec::new();
    for c in 0..8 {
        tasks.push(json!({"id": format!("c{c}_0"), "op": "fill", "args": [[1000], 1.0]}));
        for s in 1..20 {
            tasks.push(json!({"id": format!("c{c}_{s}"), "op": "busy", "args": [format!("c{c}_{}", s - 1)], "params": {"iterations": 100000}}));
        }
    }
    let job = job_of(&tasks);
    let infos = vec![
        RankInfo {
            threads: 1,
            gpus: 0
        };
        4
    ];
    let a = plan::assign(&job.graph, &infos).unwrap();
    let mut per_rank = [0usize; 4];
    for c in 0..8 {
        let r0 = a.owner[c * 20];
        for s in 0..20 {
            assert_eq!(a.owner[c * 20 + s], r0, "chain {c} split");
        }
        per_rank[r0 as usize] += 1;
    }
    assert_eq!(per_rank, [2, 2, 2, 2], "chains spread evenly: {per_rank:?}");
}

#[test]
fn a_failing_task_is_reported_with_its_id_and_rank() {
    let tasks = vec![
        json!({"id": "ones", "op": "fill", "args": [[4], 1.0], "params": {"dtype": "i64"}}),
        json!({"id": "zeros", "op": "fill", "args": [[4], 0.0], "params": {"dtype": "i64"}}),
        json!({"id": "boom", "op": "div", "args": ["ones", "zeros"]}),
        json!({"id": "after", "op": "add", "args": ["boom", 1.0]}),
    ];
    let job = job_of(&tasks);
    for ranks in 1..=3 {
        let err = run_in_process(&job.graph, ranks, 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"boom\"") && err.contains("division by zero"),
            "{err}"
        );
    }
}

/// Independent chains, the heavy ones dealt to rank 0 of 3 by the `chains` workload's
/// placement: the idle ranks steal, by random and by cost decisions alike, every task runs
/// once, and the outputs are those of a run without stealing.
#[test]
fn idle_ranks_steal_from_a_loaded_one() {
    let job = json!({"dirk": 1, "name": "skew", "workload": {"kind": "chains", "chains": 9,
        "length": 6, "size": 64, "iterations": [3000000, 3000000, 3000000, 100, 100, 100, 100, 100, 100]}});
    let job = dirk::job::from_str(&job.to_string(), "skew", Path::new(".")).expect("loads");
    let plain = run_in_process(&job.graph, 3, 1).expect("run without stealing");
    for policy in [StealPolicy::Random(7), StealPolicy::Cost] {
        let opts = StealOptions {
            policy,
            max_delay_us: 50,
            seed: 1,
        };
        let run = run_in_process_stealing(&job.graph, 3, 1, opts).expect("run");
        let mut ran: Vec<u32> = run.ran.iter().flatten().copied().collect();
        ran.sort_unstable();
        assert_eq!(ran, (0..job.graph.len() as u32).collect::<Vec<_>>());
        assert!(run.stolen > 0, "{policy:?}: nothing was stolen");
        assert_eq!(run.outputs.len(), 9);
        for (k, v) in &plain {
            assert_eq!(run.outputs[k], *v, "output of task {k}");
        }
    }
}

/// A rank none of whose tasks can move (the first is scoped to it, every later one carries
/// 560 KB in and out, over the 1 MiB limit) says `NoMore` when it starts, so the idle rank
/// stops asking it at once (a request or two may cross the `NoMore` on a loaded machine),
/// instead of every 1 → 64 ms (its backoff) through the whole run: 8 times without `NoMore`.
#[test]
fn an_idle_rank_stops_asking_a_rank_with_nothing_movable() {
    let mut tasks =
        vec![json!({"id": "t0", "op": "fill", "args": [[70000], 1.0], "scope": {"rank": 0}})];
    for i in 1..=40 {
        tasks.push(
            json!({"id": format!("t{i}"), "op": "busy", "args": [format!("t{}", i - 1)],
            "params": {"iterations": 3_000_000}}),
        );
    }
    let job = job_of(&tasks);
    let opts = StealOptions {
        policy: StealPolicy::Cost,
        max_delay_us: 0,
        seed: 1,
    };
    let run = run_in_process_stealing(&job.graph, 2, 1, opts).expect("run");
    assert_eq!(run.ran[0].len(), 41, "the chain stays on rank 0");
    assert_eq!(run.stolen, 0);
    assert!(
        run.steal_requests[1] <= 3,
        "rank 1 asked {} times",
        run.steal_requests[1]
    );
}

#[test]
fn a_failing_stolen_task_is_reported_with_its_id() {
    let tasks = vec![
        json!({"id": "ones", "op": "fill", "args": [[4], 1.0], "params": {"dtype": "i64"}, "scope": {"rank": 0}}),
        json!({"id": "zeros", "op": "fill", "args": [[4], 0.0], "params": {"dtype": "i64"}, "scope": {"rank": 0}}),
        json!({"id": "boom", "op": "div", "args": ["ones", "zeros"]}),
        json!({"id": "after", "op": "add", "args": ["boom", 1.0]}),
    ];
    let job = job_of(&tasks);
    for seed in 0..4 {
        let opts = StealOptions {
            policy: StealPolicy::Random(seed),
            max_delay_us: 20,
            seed,
        };
        let err = run_in_process_stealing(&job.graph, 2, 1, opts)
            .err()
            .expect("the run fails")
            .to_string();
        assert!(
            err.contains("\"boom\"") && err.contains("division by zero"),
            "{err}"
        );
    }
}

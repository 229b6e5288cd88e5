//! Routing throughput of the engine in a large center: 10,000 voice agents, all
//! busy, 100,000 contacts waiting over 50 queues (pairs of 12 skills).
//!
//! One iteration is one routing decision in steady state: the agent holding the
//! oldest call ends it (`ContactEnded`, `WrapUpDone`), the engine offers that
//! agent the next contact it qualifies for, and the offer is accepted. Criterion
//! reports time per iteration; decisions per second is its inverse (criterion
//! prints it as "elem/s").
//!
//! * `realistic_time`: simulated time advances 18 ms per decision (10,000 agents
//!   on 3-minute calls) and the engine is woken whenever its timer is due, so the
//!   once-a-second wait-estimate updates to the line are included, amortised.
//! * `frozen_time`: time stands still; only the decision itself is measured.
//!
//! The line is topped up between measurements (untimed) so it stays between
//! 90,000 and 100,000 contacts.
//!
//! ```sh
//! cargo bench -p acd --bench routing -- --warm-up-time 1 --measurement-time 5
//! ```

mod fixture;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use fixture::{Center, REALISTIC_STEP};

const AGENTS: u32 = 10_000;
const WAITING: usize = 100_000;
/// Top the line up when it has shrunk by this much.
const REFILL: usize = 10_000;

fn decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("routing");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for (name, step) in [
        ("realistic_time", REALISTIC_STEP),
        ("frozen_time", Duration::ZERO),
    ] {
        let built = Instant::now();
        let mut center = Center::new(AGENTS, WAITING, step, false);
        let (wakeups, wakeup_outputs) = (center.wakeups, center.wakeup_outputs);
        let mut made = 0u64;
        eprintln!(
            "{name}: built {AGENTS} agents and {WAITING} waiting in {:.2} s",
            built.elapsed().as_secs_f64()
        );
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    if center.waiting + REFILL <= WAITING {
                        while center.waiting < WAITING {
                            center.arrive_backlog();
                        }
                    }
                    // Time a batch that cannot drain the line below the refill
                    // mark, so topping up stays outside the measurement.
                    let batch = (iters - done).min((center.waiting + REFILL - WAITING) as u64);
                    let start = Instant::now();
                    for _ in 0..batch {
                        center.tick();
                        let offers = center.cycle();
                        debug_assert_eq!(offers, 1);
                    }
                    spent += start.elapsed();
                    done += batch;
                }
                made += iters;
                spent
            });
        });
        // How much of the work was the engine's timer (mostly wait-estimate
        // updates to the line) rather than the decisions themselves.
        eprintln!(
            "{name}: {made} decisions, {} timer wake-ups with {} outputs",
            center.wakeups - wakeups,
            center.wakeup_outputs - wakeup_outputs
        );
    }
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);

//! Latency percentiles of single routing operations in a large center (criterion
//! gives means; a dashboard promise needs the tail).
//!
//! Same center as `benches/routing.rs`: 10,000 voice agents, 100,000 contacts
//! waiting over 50 queues, estimates every second, 18 ms of simulated time per
//! decision. Measured with `Instant` around each operation:
//!
//! * enqueue → offer: agent 1 is the only free agent and alone serves queue 50,
//!   where nobody waits; a contact arrives there. Timed from `handle_input(
//!   ContactArrived)` to the `Offer` coming out of `poll_output`.
//! * decision: an agent ends a call (`ContactEnded`, `WrapUpDone`) and the next
//!   contact is offered to it; timed from the first input to the `Offer`, the
//!   acceptance included.
//! * timer wake-up: `Input::Timeout` when due, with every output it produces
//!   (mostly wait-estimate updates for the line), reported apart.
//!
//! ```sh
//! cargo run --release -p acd --example route_latency
//! ```

#[path = "../benches/fixture/mod.rs"]
mod fixture;

use std::time::{Duration, Instant};

use acd::{Command, Input, Output};
use fixture::{Center, REALISTIC_STEP};

const AGENTS: u32 = 10_000;
const WAITING: usize = 100_000;
const SAMPLES: usize = 100_000;

struct Samples(Vec<u64>);

impl Samples {
    fn line(&mut self, name: &str) {
        let v = &mut self.0;
        v.sort_unstable();
        let at = |q: f64| {
            let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
            fmt_ns(v[i])
        };
        let mean = v.iter().sum::<u64>() / v.len().max(1) as u64;
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            v.len(),
            fmt_ns(mean),
            at(0.5),
            at(0.99),
            at(0.999),
            fmt_ns(*v.last().unwrap_or(&0)),
        );
    }
}

fn fmt_ns(ns: u64) -> String {
    if ns >= 10_000_000 {
        format!("{:.0} ms", ns as f64 / 1e6)
    } else if ns >= 10_000 {
        format!("{:.0} µs", ns as f64 / 1e3)
    } else {
        format!("{:.2} µs", ns as f64 / 1e3)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn main() {
    println!("| operation | samples | mean | p50 | p99 | p99.9 | max |");
    println!("|---|---|---|---|---|---|---|");
    enqueue_to_offer();
    decisions();
}

fn enqueue_to_offer() {
    let built = Instant::now();
    let mut c = Center::new(AGENTS, WAITING, REALISTIC_STEP, true);
    eprintln!(
        "probe center built in {:.2} s",
        built.elapsed().as_secs_f64()
    );
    let mut latency = Samples(Vec::with_capacity(SAMPLES));
    let mut wakes = Samples(Vec::new());
    let queue = Center::probe_queue();
    for n in 0..SAMPLES {
        let woke = Instant::now();
        if c.tick() > 0 || c.timer <= c.now {
            wakes.0.push(nanos(woke.elapsed()));
        }
        let contact = acd::ContactId(-(n as i64) - 1);
        let spec = acd::ContactSpec::new(contact, queue, acd::Media::Voice, c.now);
        let start = Instant::now();
        c.acd
            .handle_input(c.now, Input::ContactArrived(Box::new(spec)));
        let mut agent = None;
        loop {
            match c.acd.poll_output() {
                Output::Command(Command::Offer {
                    contact: offered,
                    agent: a,
                    ..
                }) if offered == contact => {
                    latency.0.push(nanos(start.elapsed()));
                    agent = Some(a);
                }
                Output::Timeout(t) => {
                    c.timer = t;
                    break;
                }
                _ => {}
            }
        }
        let agent = agent.expect("the free agent was offered the contact");
        // Give the agent back, untimed.
        c.feed(Input::OfferAccepted { contact, agent });
        c.feed(Input::ContactEnded { contact });
        c.feed(Input::WrapUpDone { contact });
        assert!(
            c.offers.is_empty(),
            "the probe agent took a backlog contact"
        );
    }
    latency.line("enqueue → offer (1 free agent, 100k waiting elsewhere)");
    if !wakes.0.is_empty() {
        wakes.line("timer wake-up, probe center (line not moving)");
    }
}

fn decisions() {
    let built = Instant::now();
    let mut c = Center::new(AGENTS, WAITING, REALISTIC_STEP, false);
    eprintln!(
        "busy center built in {:.2} s",
        built.elapsed().as_secs_f64()
    );
    let mut latency = Samples(Vec::with_capacity(SAMPLES));
    let mut wakes = Samples(Vec::new());
    let mut wake_outputs = 0;
    for _ in 0..SAMPLES {
        if c.waiting + 10_000 <= WAITING {
            while c.waiting < WAITING {
                c.arrive_backlog();
            }
        }
        let woke = Instant::now();
        let outputs = c.tick();
        if outputs > 0 {
            wakes.0.push(nanos(woke.elapsed()));
            wake_outputs += outputs;
        }
        let start = Instant::now();
        let offers = c.cycle();
        latency.0.push(nanos(start.elapsed()));
        assert_eq!(offers, 1, "each call ended frees one agent for one contact");
    }
    latency.line("decision: end + wrap-up done → offer → accept (100k waiting)");
    if !wakes.0.is_empty() {
        let n = wakes.0.len();
        wakes.line("timer wake-up, busy center (line moving)");
        println!(
            "\n{n} wake-ups produced {wake_outputs} outputs ({} per wake-up).",
            wake_outputs / n
        );
    }
}

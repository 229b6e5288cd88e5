//! Wait-estimate error of the engine under Poisson arrivals, beside Erlang C.
//!
//! Runs `acd::simulate::run` for 20 agents with a 3-minute mean handle time at
//! several loads and prints a markdown table (the one in docs/benchmarks.md,
//! "ACD wait estimate error"). Run it in release: a day is tens of thousands of
//! engine inputs.
//!
//! ```sh
//! cargo run --release -p acd --example estimate_error
//! ```

use std::time::{Duration, Instant};

use acd::simulate::{Scenario, run, run_with};

fn main() {
    let agents = 20;
    let aht = Duration::from_mins(3);
    let verbose = std::env::args().any(|a| a == "--verbose");
    let scenario = |rho: f64, patience: Duration| Scenario {
        agents,
        skills: 1,
        // λ = ρ·N / AHT, per hour.
        arrivals_per_hour: rho * f64::from(agents) * 3600.0 / aht.as_secs_f64(),
        mean_handle: aht,
        mean_patience: patience,
        hours: 200.0,
        seed: 1,
        ..Scenario::default()
    };
    println!(
        "| occupancy target | mean patience | contacts | answered | abandoned | est. samples | MAE | bias | ASA sim | ASA Erlang C | SL(20 s) sim | SL Erlang C | P(wait) sim | P(wait) Erlang C | occupancy sim |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for patience in [Duration::from_hours(100), Duration::from_mins(2)] {
        for rho in [0.70, 0.85, 0.95] {
            let sc = scenario(rho, patience);
            let started = Instant::now();
            let r = run(&sc);
            if verbose {
                eprintln!("{r}\n({:.1} s wall)\n", started.elapsed().as_secs_f64());
            }
            let s = |d: Duration| format!("{:.1} s", d.as_secs_f64());
            let p = |x: f64| format!("{:.1} %", x * 100.0);
            let patience = if patience >= Duration::from_hours(100) {
                "100 h".to_owned()
            } else {
                format!("{} s", patience.as_secs())
            };
            println!(
                "| {rho:.2} | {patience} | {} | {} | {} | {} | {} | {:+.1} s | {} | {} | {} | {} | {} | {} | {} |",
                r.offered,
                r.answered,
                r.abandoned,
                r.estimate_samples,
                s(r.estimate_mae),
                r.estimate_bias_secs,
                s(r.asa),
                r.erlang.asa.map_or_else(|| "unstable".to_owned(), s),
                p(r.service_level),
                p(r.erlang.service_level),
                p(r.probability_of_wait),
                p(r.erlang.probability_of_wait),
                p(r.occupancy),
            );
        }
    }
    // The engine's handle time is a moving average; with exponential handle
    // times a heavy weight on the newest sample makes it noisy. Same days, the
    // weight varied (0 keeps the initial value, here the true mean).
    println!();
    println!("| occupancy target | handle_time_smoothing | est. samples | MAE | bias |");
    println!("|---|---|---|---|---|");
    for rho in [0.70, 0.85, 0.95] {
        for smoothing in [0.2, 0.1, 0.05, 0.02, 0.01, 0.0] {
            let sc = scenario(rho, Duration::from_hours(100));
            let mut config = sc.engine_config();
            config.handle_time_smoothing = smoothing;
            let r = run_with(&sc, config);
            let default = if (smoothing - acd::Config::default().handle_time_smoothing).abs() < 1e-9
            {
                " (default)"
            } else {
                ""
            };
            println!(
                "| {rho:.2} | {smoothing}{default} | {} | {:.1} s | {:+.1} s |",
                r.estimate_samples,
                r.estimate_mae.as_secs_f64(),
                r.estimate_bias_secs,
            );
        }
    }
}

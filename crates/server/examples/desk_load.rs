//! Load tool: contacts per second through the whole server, end to end.
//!
//! Starts a release server as a child process (`switchboard serve`) on a
//! fresh data directory (SQLite) or a fresh PostgreSQL database, with a
//! tenant file it writes: one queue, one link feeding it, `M` agents holding
//! its skill. Then, over real loopback sockets (the tool's with Nagle's
//! algorithm off, as browsers have it):
//!
//! * `M` agent consoles log in over HTTP (each from its own loopback source
//!   address, 127.0.x.y: the server allows 10 logins per client address per
//!   minute and that limit has no setting), connect the agent WebSocket with
//!   the session cookie and the listener's Origin, and go available. Each
//!   accepts every `offer`, answers every visitor `message` with one of its
//!   own, and sends `wrapup` when the contact has `ended` (the agent is then
//!   free again: no status frame is needed). The server takes at most 10
//!   frames a second from one connection (burst 30, no setting); a console
//!   holds back a frame that would go over (9 a second, burst 25) rather than
//!   have it refused, and the tool prints how often that happened. A contact
//!   costs a console 5 frames (accept, 3 replies, wrapup), so `M` consoles
//!   carry at most about `1.8 × M` contacts a second: give enough of them.
//! * `N` visitor loops. Each opens a visitor WebSocket (Origin
//!   `http://shop.example`, listed in the tenant's `allowed_origins`), sends
//!   `hello` and waits for `welcome`, sends `start`, waits for `connected`,
//!   then three times sends a `message` and waits for its own echo and the
//!   agent's reply, sends `end`, waits for `ended`, closes, and starts over
//!   with a new connection.
//!
//! After a warm-up it measures for `S` seconds:
//!
//! * contacts completed (`ended` received by the visitor) per second;
//! * enqueue to connected: the visitor sends `start` → the visitor receives
//!   `connected`. The visitor sees no offer; `connected` comes after the
//!   agent's console received the `offer` and its `accept` came back, so it
//!   includes one agent round trip. Also printed: enqueue to offer, `start`
//!   sent → the `offer` at the agent's console (the tool matches the two by
//!   the page URL, unique per contact, which the screen pop carries);
//! * message round trip: the visitor sends `message` → the visitor receives
//!   the agent's reply (which includes the agent's console turning it
//!   around); also the visitor's own echo;
//! * errors by kind: error frames, unexpected frames, closed connections,
//!   steps that took over 10 s;
//! * the server's CPU (utime + stime of /proc/PID/stat over the window, as %
//!   of one core; also by thread name), its VmRSS at start, after the logins
//!   and at the end, and VmHWM (peak); the load generator's CPU and, on
//!   PostgreSQL, the CPU of the server's database backends and the
//!   transactions committed per contact.
//!
//! `--store-delay-ms D` (PostgreSQL only) puts an in-process TCP proxy in
//! front of PostgreSQL that holds every client-to-server chunk D ms before
//! passing it on (in order, per connection); server-to-client goes straight
//! through. Every statement's round trip then takes D ms more, as with a
//! database D ms away. The server is not changed: it is pointed at the
//! proxy. SQLite runs inside the server process, with nothing to delay from
//! outside, so the tool refuses `--store sqlite` with a delay.
//!
//! ```text
//! cargo build --release -p switchboard --bin switchboard --example desk_load
//! ./target/release/examples/desk_load --visitors 50 --agents 400 --max-chats 1
//! ./target/release/examples/desk_load --store postgres --store-delay-ms 20 --visitors 4
//! ```

// The crate root looks for modules beside it; these live in desk_load/.
#[path = "desk_load/clients.rs"]
mod clients;
#[path = "desk_load/server.rs"]
mod server;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::StreamExt;

use self::{
    clients::{STEP, Sample, Shared, Tally},
    server::{Running, Setup, Store},
};

/// Logins running at once (each is an Argon2 check of ~19 MiB on the server).
const LOGINS_AT_ONCE: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Sqlite,
    Postgres,
}

struct Args {
    visitors: usize,
    agents: usize,
    max_chats: u32,
    seconds: u64,
    warmup: u64,
    store: StoreKind,
    store_delay_ms: u64,
    postgres: String,
    server: PathBuf,
}

const USAGE: &str = "usage: desk_load [--visitors N] [--agents M] [--max-chats K] \
[--seconds S] [--warmup W] [--store sqlite|postgres] [--store-delay-ms D] \
[--postgres ADMIN_URL] [--server PATH]";

fn parse_args() -> Result<Args, String> {
    // Beside this example in target/release: ../switchboard.
    let server = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("switchboard")))
        .unwrap_or_else(|| PathBuf::from("target/release/switchboard"));
    let mut args = Args {
        visitors: 50,
        agents: 50,
        max_chats: 2,
        seconds: 15,
        warmup: 3,
        store: StoreKind::Sqlite,
        store_delay_ms: 0,
        postgres: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
        server,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--visitors" => args.visitors = number()? as usize,
            "--agents" => args.agents = number()? as usize,
            "--max-chats" => args.max_chats = number()? as u32,
            "--seconds" => args.seconds = number()?,
            "--warmup" => args.warmup = number()?,
            "--store-delay-ms" => args.store_delay_ms = number()?,
            "--store" => {
                args.store = match value.as_str() {
                    "sqlite" => StoreKind::Sqlite,
                    "postgres" => StoreKind::Postgres,
                    _ => return Err(format!("--store is sqlite or postgres, not {value}")),
                };
            }
            "--postgres" => args.postgres = value,
            "--server" => args.server = PathBuf::from(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.visitors == 0 || args.agents == 0 || args.max_chats == 0 || args.seconds == 0 {
        return Err("--visitors, --agents, --max-chats and --seconds must be above zero".into());
    }
    if args.agents > 60_000 {
        return Err("--agents: at most 60000 (one loopback address each)".into());
    }
    if args.store_delay_ms > 0 && args.store == StoreKind::Sqlite {
        return Err(
            "--store-delay-ms needs --store postgres: the delay is a TCP proxy in \
                    front of PostgreSQL, and SQLite runs inside the server process with no \
                    connection to delay"
                .into(),
        );
    }
    Ok(args)
}

impl Args {
    fn store_name(&self) -> String {
        match (self.store, self.store_delay_ms) {
            (StoreKind::Sqlite, _) => "sqlite".to_owned(),
            (StoreKind::Postgres, 0) => "postgres".to_owned(),
            (StoreKind::Postgres, d) => format!("postgres+{d}ms"),
        }
    }
}

/// What /proc and the server said about the measuring window.
struct Window {
    from: Instant,
    to: Instant,
    ticks_per_second: f64,
    server_ticks: u64,
    /// The server's threads by name.
    thread_ticks: Vec<(String, u64)>,
    generator_ticks: u64,
    /// PostgreSQL backends of the database, and their ticks.
    backends: usize,
    backend_ticks: u64,
    /// Transactions committed in the database over the window.
    commits: Option<i64>,
    /// VmRSS when the server had started, and when the agents had logged
    /// in (before the visitors came).
    rss_start_kib: u64,
    rss_idle_kib: u64,
    rss_kib: u64,
    hwm_kib: u64,
    load_before: String,
    load_after: String,
    metrics: String,
}

impl Window {
    fn seconds(&self) -> f64 {
        (self.to - self.from).as_secs_f64()
    }

    /// Ticks as % of one core over the window.
    fn percent(&self, ticks: u64) -> f64 {
        ticks as f64 / self.ticks_per_second / self.seconds() * 100.0
    }

    fn contains(&self, at: Instant) -> bool {
        at >= self.from && at < self.to
    }

    /// The window's samples, sorted.
    fn samples(&self, samples: &[Sample]) -> Vec<Duration> {
        let mut v: Vec<Duration> = samples
            .iter()
            .filter(|(at, _)| self.contains(*at))
            .map(|(_, d)| *d)
            .collect();
        v.sort_unstable();
        v
    }
}

/// Measures for `seconds` while the loops run.
async fn measure(args: &Args, server: &Running, store: &Store, shared: &Shared) -> Window {
    let backends = match &store.postgres_name {
        Some(name) => server::backends(&args.postgres, name).await,
        None => Vec::new(),
    };
    let me = std::process::id().to_string();
    let pid = server.pid;
    let backend_ticks = || {
        backends
            .iter()
            .filter_map(|p| server::cpu_ticks(&p.to_string()))
            .sum::<u64>()
    };
    let commits = || async {
        match &store.postgres_name {
            Some(name) => server::commits(&args.postgres, name).await,
            None => None,
        }
    };
    let load_before = server::loadavg();
    let commits_before = commits().await;
    let from = Instant::now();
    let server_before = server::cpu_ticks(&pid.to_string()).unwrap_or(0);
    let threads_before = server::thread_ticks(pid);
    let me_before = server::cpu_ticks(&me).unwrap_or(0);
    let backends_before = backend_ticks();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let to = Instant::now();
    let server_after = server::cpu_ticks(&pid.to_string()).unwrap_or(0);
    let threads_after = server::thread_ticks(pid);
    let me_after = server::cpu_ticks(&me).unwrap_or(0);
    let backends_after = backend_ticks();
    let commits_after = commits().await;
    let thread_ticks = server::ticks_by_name(&threads_before, &threads_after);
    let metrics = match reqwest::get(format!("{}/metrics", shared.agent_url())).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    Window {
        from,
        to,
        ticks_per_second: server::clock_ticks_per_second().await,
        server_ticks: server_after.saturating_sub(server_before),
        thread_ticks,
        generator_ticks: me_after.saturating_sub(me_before),
        backends: backends.len(),
        backend_ticks: backends_after.saturating_sub(backends_before),
        commits: commits_after.zip(commits_before).map(|(a, b)| a - b),
        rss_start_kib: 0,
        rss_idle_kib: 0,
        rss_kib: server::status_kib(pid, "VmRSS:").unwrap_or(0),
        hwm_kib: server::status_kib(pid, "VmHWM:").unwrap_or(0),
        load_before,
        load_after: server::loadavg(),
        metrics,
    }
}

async fn run(args: &Args, setup: &mut Setup) -> Result<(), String> {
    let dir = setup.data_dir()?;
    let store = match args.store {
        StoreKind::Sqlite => Store::sqlite(),
        StoreKind::Postgres => {
            let delay = Duration::from_millis(args.store_delay_ms);
            Store::postgres(&args.postgres, delay, setup).await?
        }
    };
    eprintln!("desk_load: a tenant with {} agents...", args.agents);
    let passwords =
        server::apply_tenant(&args.server, &dir, &store, args.agents, args.max_chats).await?;
    let running = server::start(&args.server, setup, &dir, &store).await?;
    eprintln!(
        "desk_load: server {} at {} and {}",
        running.pid, running.public, running.agent
    );
    let shared = Arc::new(Shared::new(running.public.clone(), running.agent.clone()));
    let rss_start_kib = server::status_kib(running.pid, "VmRSS:").unwrap_or(0);

    eprintln!("desk_load: logging in {} agents...", args.agents);
    let consoles = futures_util::stream::iter((0..args.agents).map(|i| {
        let shared = shared.clone();
        let password = passwords
            .get(&clients::agent_name(i))
            .cloned()
            .unwrap_or_default();
        async move { clients::agent_console(&shared, i, &password).await }
    }))
    .buffer_unordered(LOGINS_AT_ONCE)
    .collect::<Vec<_>>()
    .await;
    let mut agents = Vec::new();
    for console in consoles {
        agents.push(tokio::spawn(clients::agent_loop(shared.clone(), console?)));
    }
    let rss_idle_kib = server::status_kib(running.pid, "VmRSS:").unwrap_or(0);

    eprintln!(
        "desk_load: {} visitors, warm-up {} s, measuring {} s...",
        args.visitors, args.warmup, args.seconds
    );
    let visitors: Vec<_> = (0..args.visitors)
        .map(|i| tokio::spawn(clients::visitor_loop(shared.clone(), i)))
        .collect();
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let mut window = measure(args, &running, &store, &shared).await;
    window.rss_start_kib = rss_start_kib;
    window.rss_idle_kib = rss_idle_kib;

    // Let the loops finish the contact they are in.
    shared.stop();
    let finish = futures_util::future::join_all(visitors);
    if tokio::time::timeout(STEP * 2, finish).await.is_err() {
        eprintln!("desk_load: some visitor loops did not finish in time");
    }
    for agent in &agents {
        agent.abort();
    }
    report(args, &shared.tally(), &window);
    Ok(())
}

/// Nearest-rank percentile of sorted `v`, in ms.
fn percentile_ms(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len());
    v[rank - 1].as_secs_f64() * 1000.0
}

fn describe(name: &str, v: &[Duration]) -> String {
    format!(
        "{name:<44} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  (n={})",
        percentile_ms(v, 0.5),
        percentile_ms(v, 0.99),
        v.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
        v.len()
    )
}

fn report(args: &Args, tally: &Tally, w: &Window) {
    let seconds = w.seconds();
    let completed = tally.completed.iter().filter(|at| w.contains(**at)).count();
    let wrapped = tally.wrapped.iter().filter(|at| w.contains(**at)).count();
    let to_connected = w.samples(&tally.to_connected);
    let to_offer = w.samples(&tally.to_offer);
    let reply = w.samples(&tally.reply);
    let echo = w.samples(&tally.echo);
    let held = w.samples(&tally.held_back);
    // Errors by kind: in the window, and before or after it.
    let mut errors: HashMap<&str, (usize, usize)> = HashMap::new();
    for (at, kind) in &tally.errors {
        let e = errors.entry(kind.as_str()).or_default();
        if w.contains(*at) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    let errors_in_window: usize = errors.values().map(|(inside, _)| inside).sum();
    let store = args.store_name();
    let rate = completed as f64 / seconds;
    let server_cpu = w.percent(w.server_ticks);

    println!(
        "store {store}, {} visitors, {} agents (max_chats {}), warm-up {} s, window {seconds:.1} s",
        args.visitors, args.agents, args.max_chats, args.warmup
    );
    println!(
        "contacts completed      {completed} = {rate:.1}/s (wrap-ups {wrapped} = {:.1}/s)",
        wrapped as f64 / seconds
    );
    println!(
        "{}",
        describe("enqueue -> connected (start .. connected)", &to_connected)
    );
    println!(
        "{}",
        describe("enqueue -> offer (start .. offer at console)", &to_offer)
    );
    println!(
        "{}",
        describe("message RTT (message .. agent's reply)", &reply)
    );
    println!("{}", describe("message echo (message .. own echo)", &echo));
    println!("errors in the window    {errors_in_window}");
    let mut kinds: Vec<_> = errors.into_iter().collect();
    kinds.sort_unstable();
    for (kind, (inside, outside)) in kinds {
        println!("  {inside:>6} in the window, {outside:>6} before or after: {kind}");
    }
    println!(
        "agent frames held back  {} (to stay under 10 frames/s per console), {:.1} s in all",
        held.len(),
        held.iter().sum::<Duration>().as_secs_f64()
    );
    println!(
        "server CPU              {server_cpu:.1}% of one core; VmRSS {} KiB at the end \
         ({} KiB at start, {} KiB with the agents logged in), VmHWM {} KiB",
        w.rss_kib, w.rss_start_kib, w.rss_idle_kib, w.hwm_kib
    );
    for (name, ticks) in &w.thread_ticks {
        println!("  server threads {name:<24} {:.1}%", w.percent(*ticks));
    }
    println!(
        "load generator CPU      {:.1}% of one core",
        w.percent(w.generator_ticks)
    );
    if w.backends > 0 {
        println!(
            "PostgreSQL backends     {:.1}% of one core ({} backends of the database)",
            w.percent(w.backend_ticks),
            w.backends
        );
    }
    if let Some(commits) = w.commits.filter(|_| completed > 0) {
        println!(
            "PostgreSQL commits      {commits} = {:.1} per contact completed (the desk's and the \
             stat writer's)",
            commits as f64 / completed as f64
        );
    }
    println!(
        "load average            {} before, {} after",
        w.load_before, w.load_after
    );
    let wanted = [
        "switchboard_stat_events_dropped",
        "switchboard_offers_missed",
        "switchboard_logins_throttled",
    ];
    for line in w.metrics.lines() {
        if wanted.iter().any(|m| line.starts_with(m)) {
            println!("server metric           {line}");
        }
    }
    println!(
        "row | {store} | {} | {} | {rate:.0} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | \
         {:.1} / {:.1} ms | {errors_in_window} | {server_cpu:.0} % | {:.0} / {:.0} MiB |",
        args.visitors,
        args.agents,
        percentile_ms(&to_connected, 0.5),
        percentile_ms(&to_connected, 0.99),
        percentile_ms(&to_offer, 0.5),
        percentile_ms(&to_offer, 0.99),
        percentile_ms(&reply, 0.5),
        percentile_ms(&reply, 0.99),
        w.rss_kib as f64 / 1024.0,
        w.hwm_kib as f64 / 1024.0,
    );
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("desk_load: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // One thread: the load generator takes at most one core of the
    // machine's (it prints how much).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("desk_load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let mut setup = Setup::default();
        let result = tokio::select! {
            r = run(&args, &mut setup) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
        };
        setup.teardown().await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("desk_load: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

//! What the media load tools share: their flags, the engine on a thread of
//! its own, and reading a thread's CPU time.

use std::time::Duration;

use media::{MediaConfig, MediaEngine};

pub struct Args {
    pub calls: usize,
    pub seconds: u64,
    pub warmup: u64,
}

/// `--calls N --seconds S --warmup W`, each optional; `calls` is the default
/// of N, and `tool` names the tool in the usage message.
pub fn args(tool: &str, calls: usize) -> Args {
    let mut args = Args {
        calls,
        seconds: 10,
        warmup: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--calls", Some(v)) => args.calls = v as usize,
            ("--seconds", Some(v)) => args.seconds = v,
            ("--warmup", Some(v)) => args.warmup = v,
            _ => {
                eprintln!("usage: {tool} [--calls N] [--seconds S] [--warmup W]");
                std::process::exit(2);
            }
        }
    }
    args
}

/// The calling thread's /proc task path (`<pid>/task/<tid>`).
pub fn this_thread() -> String {
    std::fs::read_link("/proc/thread-self")
        .expect("/proc/thread-self")
        .to_string_lossy()
        .into_owned()
}

/// CPU time a thread has used, in nanoseconds (first field of schedstat).
pub fn thread_cpu_ns(task: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{task}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Starts the engine on its own thread (a current-thread tokio runtime, so
/// every engine task runs there); returns it and the thread's /proc task
/// path.
pub fn engine_thread() -> (MediaEngine, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("media-engine".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("engine runtime");
            runtime.block_on(async move {
                let engine = MediaEngine::start(MediaConfig {
                    bind: "127.0.0.1:0".parse().expect("address"),
                    announce: "127.0.0.1".parse().expect("address"),
                    connect_timeout: Duration::from_secs(30),
                    rtp_ports: (0, 0),
                    rtp_source: media::RtpSourcePolicy::default(),
                })
                .await
                .expect("engine starts");
                tx.send((engine, this_thread())).expect("main thread waits");
                std::future::pending::<()>().await;
            });
        })
        .expect("engine thread");
    rx.recv().expect("engine started")
}

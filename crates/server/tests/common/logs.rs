//! What the server logs at info level and above, captured in the test process
//! so a test can say what must never be logged there.

use std::{
    fmt::Write as _,
    sync::{Arc, Mutex, OnceLock},
};

use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{Layer, layer::Context, prelude::*};

/// One event: its level, then `name=value` for each field (the message too).
pub type Line = String;

#[derive(Clone, Default)]
pub struct InfoLogs(Arc<Mutex<Vec<Line>>>);

impl InfoLogs {
    /// The process's capture, installed by the first caller. Each test runs in
    /// its own process under nextest; under `cargo test` tests share it, which
    /// only adds lines.
    pub fn capture() -> InfoLogs {
        static LOGS: OnceLock<InfoLogs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = InfoLogs::default();
            let _ = tracing_subscriber::registry().with(logs.clone()).try_init();
            logs
        })
        .clone()
    }

    pub fn lines(&self) -> Vec<Line> {
        self.0.lock().expect("logs").clone()
    }

    /// Waits until a line contains `text` (10 s at most).
    pub async fn until(&self, text: &str) -> Line {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(text)) {
                return line;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {text:?} logged at info: {:#?}",
                self.lines()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl<S: Subscriber> Layer<S> for InfoLogs {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        *metadata.level() <= Level::INFO
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::INFO {
            return;
        }
        let mut fields = Fields(level.to_string());
        event.record(&mut fields);
        self.0.lock().expect("logs").push(fields.0);
    }
}

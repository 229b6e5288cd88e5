//! Placeholder while the engine is rewritten for the full model.

use crate::{Config, Input, Output, Time};

#[derive(Debug)]
pub struct Acd {
    now: Time,
}

impl Acd {
    pub fn new(_config: Config, now: Time) -> Acd {
        Acd { now }
    }

    pub fn handle_input(&mut self, now: Time, _input: Input) {
        self.now = self.now.max(now);
    }

    pub fn poll_output(&mut self) -> Output {
        Output::Timeout(self.now)
    }
}

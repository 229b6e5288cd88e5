//! Values that must never reach a log line (passwords, database URLs, trunk
//! credentials). Its own module because configuration, tenant files and the
//! phone settings all hold them, and none of those should import another for it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value that must never reach a log line. It does serialize: tenant
/// settings that hold one (a trunk's password) are stored as JSON.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_hides_value() {
        let s = Secret::new("postgres://u:pw@h/db");
        assert_eq!(format!("{s:?}"), "***");
    }
}

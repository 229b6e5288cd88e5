//! DTMF push codes: digits a phone-side agent keys during a bridged call, read
//! as they arrive. A code is recognised the moment its last digit is keyed;
//! digits that cannot begin any code are dropped, so a stray key before "*76"
//! does not spoil it.

use std::collections::BTreeMap;

/// Digits keyed so far on one call.
#[derive(Debug, Default, Clone)]
pub struct Keyed {
    digits: String,
}

/// What a digit did.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard<'a> {
    /// A whole code: its URL.
    Code { code: String, url: &'a str },
    /// The start of some code; wait for more.
    Partial,
    /// Matches nothing.
    Unknown { digits: String },
}

/// Longest code kept in the buffer (the tenant file allows 8).
const MAX_CODE: usize = 8;

impl Keyed {
    pub fn push<'a>(&mut self, digit: char, codes: &'a BTreeMap<String, String>) -> Heard<'a> {
        self.digits.push(digit);
        if self.digits.len() > MAX_CODE {
            self.digits.remove(0);
        }
        // Try the keyed digits, then ever shorter tails of them: the agent may
        // have pressed a wrong key first.
        for start in 0..self.digits.len() {
            let tail = &self.digits[start..];
            if let Some(url) = codes.get(tail) {
                let code = tail.to_owned();
                self.digits.clear();
                return Heard::Code { code, url };
            }
            if codes.keys().any(|c| c.starts_with(tail)) {
                if start > 0 {
                    let dropped = self.digits[..start].to_owned();
                    self.digits.drain(..start);
                    tracing::debug!(digits = %dropped, "keyed digits match no push code");
                }
                return Heard::Partial;
            }
        }
        Heard::Unknown {
            digits: std::mem::take(&mut self.digits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("*76".to_owned(), "https://shop.example/checkout".to_owned()),
            ("*7".to_owned(), "https://shop.example/help".to_owned()),
            ("#1".to_owned(), "https://shop.example/one".to_owned()),
        ])
    }

    #[test]
    fn a_code_fires_on_its_last_digit() {
        let codes = codes();
        let mut k = Keyed::default();
        assert_eq!(k.push('#', &codes), Heard::Partial);
        assert_eq!(
            k.push('1', &codes),
            Heard::Code {
                code: "#1".into(),
                url: "https://shop.example/one"
            }
        );
    }

    #[test]
    fn shorter_code_wins_when_it_is_complete() {
        // "*7" is complete before "*76" can be: the tenant file's codes should
        // not be prefixes of each other, and when they are, the shorter fires.
        let codes = codes();
        let mut k = Keyed::default();
        k.push('*', &codes);
        assert!(matches!(k.push('7', &codes), Heard::Code { code, .. } if code == "*7"));
    }

    #[test]
    fn stray_digits_are_dropped_and_unknown_reported() {
        let codes = BTreeMap::from([("*76".to_owned(), "https://x.example/".to_owned())]);
        let mut k = Keyed::default();
        assert_eq!(k.push('5', &codes), Heard::Unknown { digits: "5".into() });
        assert_eq!(k.push('*', &codes), Heard::Partial);
        assert_eq!(k.push('*', &codes), Heard::Partial, "a fresh start");
        assert_eq!(k.push('7', &codes), Heard::Partial);
        assert!(matches!(k.push('6', &codes), Heard::Code { .. }));
        assert_eq!(k.push('9', &codes), Heard::Unknown { digits: "9".into() });
    }
}

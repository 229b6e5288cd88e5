//! Permanent numbers: twelve digits `xyyy yyyy yyyy`, `x` from 2 to 9 (002,
//! Fig. 13). One number space for the whole server: a SIP device names a
//! number without saying whose tenant it is.

use std::fmt;

use rand::Rng;

/// A checked permanent number, kept as its twelve digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PermanentNumber(String);

/// Why a requested number is not a permanent number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberFormatError {
    #[error("a number has 12 digits (xyyy yyyy yyyy), this one has {0}")]
    Length(usize),
    #[error("a number is digits only, grouped by spaces or dashes")]
    NotDigits,
    #[error("a number starts with a digit from 2 to 9")]
    FirstDigit,
}

impl PermanentNumber {
    /// Accepts the twelve digits, optionally grouped by spaces or dashes as
    /// people write them (`2345 6789 1011`, `2345-6789-1011`).
    pub fn parse(text: &str) -> Result<Self, NumberFormatError> {
        let mut digits = String::with_capacity(12);
        for c in text.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => return Err(NumberFormatError::NotDigits),
            }
            if digits.len() > 12 {
                // Stop early: a long paste should not be copied whole.
                return Err(NumberFormatError::Length(
                    text.chars().filter(char::is_ascii_digit).count(),
                ));
            }
        }
        if digits.len() != 12 {
            return Err(NumberFormatError::Length(digits.len()));
        }
        if matches!(digits.as_bytes()[0], b'0' | b'1') {
            return Err(NumberFormatError::FirstDigit);
        }
        Ok(PermanentNumber(digits))
    }

    /// A number drawn at random from the whole space (8 * 10^11 numbers).
    /// Random rather than sequential so a number says nothing about how many
    /// members there are or which came next; the store checks it is free.
    pub fn random(rng: &mut impl Rng) -> Self {
        let first = rng.random_range(2..=9u64);
        let rest = rng.random_range(0..100_000_000_000u64);
        PermanentNumber(format!("{first}{rest:011}"))
    }

    /// The twelve digits, as stored and as SIP user parts carry them.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// Whether `text` is twelve bare digits (no grouping): how a number
    /// appears as a SIP user name.
    pub fn is_bare(text: &str) -> bool {
        text.len() == 12 && Self::parse(text).is_ok()
    }
}

/// `xyyy yyyy yyyy`, the way people read it.
impl fmt::Display for PermanentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{} {} {}", &d[..4], &d[4..8], &d[8..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grouped_and_bare_forms() {
        for text in [
            "234567891011",
            "2345 6789 1011",
            "2345-6789-1011",
            " 2345 67891011 ",
        ] {
            let n = PermanentNumber::parse(text).unwrap();
            assert_eq!(n.digits(), "234567891011");
            assert_eq!(n.to_string(), "2345 6789 1011");
        }
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        use NumberFormatError::*;
        assert_eq!(PermanentNumber::parse("12345678901"), Err(Length(11)));
        assert_eq!(PermanentNumber::parse("2345678910112"), Err(Length(13)));
        assert_eq!(PermanentNumber::parse("134567891011"), Err(FirstDigit));
        assert_eq!(PermanentNumber::parse("034567891011"), Err(FirstDigit));
        assert_eq!(PermanentNumber::parse("2345x6789101"), Err(NotDigits));
        assert_eq!(PermanentNumber::parse("+234567891011"), Err(NotDigits));
        assert_eq!(PermanentNumber::parse(""), Err(Length(0)));
        assert!(PermanentNumber::parse(&"9".repeat(10_000)).is_err());
        assert!(!PermanentNumber::is_bare("2345 6789 1011"));
        assert!(PermanentNumber::is_bare("234567891011"));
    }

    #[test]
    fn random_numbers_are_in_format() {
        let mut rng = rand::rng();
        for _ in 0..10_000 {
            let n = PermanentNumber::random(&mut rng);
            assert_eq!(PermanentNumber::parse(n.digits()).as_ref(), Ok(&n));
        }
    }
}

//! Phone number checks. Numbers are compared and stored in E.164 across Switchboard.

/// `+` then 8..=15 digits, the first 1-9.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Normalises a SIP user part to E.164 when it looks like a number.
///
/// Trunks send DIDs and caller ids as `+4930...`, `004930...` or bare `4930...`;
/// visual separators (`-`, `.`, `(`, `)`, spaces and their escapes) are dropped.
/// Anything else (`anonymous`, a national number we cannot qualify) is returned
/// unchanged so the server can still decide what to do with it.
pub fn normalise(user: &str) -> String {
    let cleaned: String = user
        .replace("%20", "")
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    let candidate = if let Some(rest) = cleaned.strip_prefix("00") {
        format!("+{rest}")
    } else if cleaned.starts_with('+') {
        cleaned.clone()
    } else {
        format!("+{cleaned}")
    };
    if is_e164(&candidate) {
        candidate
    } else {
        user.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_accepts_valid_numbers() {
        assert!(is_e164("+14155550100"));
        assert!(is_e164("+12345678"));
        assert!(is_e164("+123456789012345"));
    }

    #[test]
    fn e164_rejects_invalid_numbers() {
        for s in [
            "",
            "+",
            "14155550100",
            "+04155550100",
            "+1234567",
            "+1234567890123456",
            "+1415555010a",
            "++14155550100",
            "+1 415 555 0100",
            "+١٢٣٤٥٦٧٨٩",
        ] {
            assert!(!is_e164(s), "{s:?}");
        }
    }

    #[test]
    fn normalise_qualifies_numbers_and_keeps_others() {
        assert_eq!(normalise("+14155550100"), "+14155550100");
        assert_eq!(normalise("0014155550100"), "+14155550100");
        assert_eq!(normalise("14155550100"), "+14155550100");
        assert_eq!(normalise("+1-415-555-0100"), "+14155550100");
        assert_eq!(normalise("anonymous"), "anonymous");
        assert_eq!(normalise("123"), "123");
    }
}

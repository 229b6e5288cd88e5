//! Country calling codes (ITU-T E.164), as far as a callback policy needs
//! them: which country a number is in, to default a tenant's callback
//! destinations to the countries of its own numbers.

/// Two-digit country codes; the one-digit ones are 1 (North America) and 7
/// (Russia, Kazakhstan); every other code has three digits.
const TWO_DIGIT: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// The country code of an E.164 number with its `+`, e.g. "+44" for
/// "+442079460000"; `None` for anything else.
pub fn country_code(number: &str) -> Option<&str> {
    let digits = number.strip_prefix('+')?;
    if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len = if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else if TWO_DIGIT.contains(&&digits[..2]) {
        2
    } else {
        3
    };
    Some(&number[..=len])
}

/// Ranges no callback goes to unless a tenant lists them itself: the shared
/// international ones (satellite, international networks, premium rate),
/// where the attacks on "call me" buttons send the calls.
pub const RISKY_BY_DEFAULT: &[&str] = &[
    "+870", "+881", "+882", "+883", "+888", "+979", "+1900", "+1976",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_one_two_and_three_digits() {
        assert_eq!(country_code("+15125550100"), Some("+1"));
        assert_eq!(country_code("+74951234567"), Some("+7"));
        assert_eq!(country_code("+442079460000"), Some("+44"));
        assert_eq!(country_code("+33142685300"), Some("+33"));
        assert_eq!(country_code("+351213456789"), Some("+351"));
        assert_eq!(country_code("+88212345678"), Some("+882"));
        assert_eq!(country_code("442079460000"), None);
        assert_eq!(country_code("+44"), None);
        assert_eq!(country_code("+44x0794600"), None);
    }
}

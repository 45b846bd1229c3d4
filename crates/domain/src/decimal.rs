//! Parsing and printing decimal numbers as scaled integers, for prices and quantities.
//!
//! People type "3.50", "3,50" (Italian), or full-width "３．５" from a Chinese keyboard. All of them
//! mean the same scaled integer; no float is ever involved. Thousands separators are refused rather
//! than guessed, because "1,000" means one thousand in English and one in Italian.

use crate::error::Error;

/// Parses `text` as a non-negative decimal with at most `scale` fraction digits, returning the value
/// multiplied by `10^scale`.
pub fn parse_scaled(text: &str, scale: u32) -> Result<i64, Error> {
    let normalized: String = text.trim().chars().map(normalize_char).collect();
    let (negative, unsigned) = match normalized.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, normalized.as_str()),
    };
    if unsigned.is_empty() {
        return Err(if negative { Error::NotANumber } else { Error::Empty });
    }
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((int_part, frac_part)) => (int_part, frac_part),
        None => (unsigned, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !all_digits(int_part) || !all_digits(frac_part) {
        return Err(Error::NotANumber);
    }
    if negative {
        return Err(Error::Negative);
    }
    if frac_part.len() > scale as usize {
        // Even trailing zeros are refused: "1,000" typed as a price by someone who meant one thousand
        // must not quietly become 1.00.
        return Err(Error::TooManyDecimals { max: scale });
    }
    let mut value: i64 = 0;
    for digit in int_part.bytes() {
        value = value.checked_mul(10).and_then(|v| v.checked_add(i64::from(digit - b'0'))).ok_or(Error::TooLarge)?;
    }
    let frac_digits = frac_part.bytes().chain(std::iter::repeat(b'0')).take(scale as usize);
    for digit in frac_digits {
        value = value.checked_mul(10).and_then(|v| v.checked_add(i64::from(digit - b'0'))).ok_or(Error::TooLarge)?;
    }
    Ok(value)
}

/// Prints a scaled integer with exactly `min_fraction` fraction digits, or more when the value needs
/// them (up to `scale`).
pub fn format_scaled(value: i64, scale: u32, min_fraction: u32) -> String {
    let divisor = 10i128.pow(scale);
    let magnitude = i128::from(value).abs();
    let sign = if value < 0 { "-" } else { "" };
    let int_part = magnitude / divisor;
    let mut fraction = format!("{:0width$}", magnitude % divisor, width = scale as usize);
    while fraction.len() > min_fraction as usize && fraction.ends_with('0') {
        fraction.pop();
    }
    if fraction.is_empty() { format!("{sign}{int_part}") } else { format!("{sign}{int_part}.{fraction}") }
}

fn normalize_char(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        '．' | '。' | ',' | '，' => '.',
        '－' => '-',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ways_people_type_numbers() {
        assert_eq!(parse_scaled("3.50", 2), Ok(350));
        assert_eq!(parse_scaled("3,5", 2), Ok(350));
        assert_eq!(parse_scaled(" 3 ", 2), Ok(300));
        assert_eq!(parse_scaled("３．５", 2), Ok(350));
        assert_eq!(parse_scaled(".5", 3), Ok(500));
        assert_eq!(parse_scaled("7.", 2), Ok(700));
        assert_eq!(parse_scaled("0", 2), Ok(0));
        assert_eq!(parse_scaled("12", 0), Ok(12));
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        assert_eq!(parse_scaled("", 2), Err(Error::Empty));
        assert_eq!(parse_scaled("   ", 2), Err(Error::Empty));
        assert_eq!(parse_scaled("-", 2), Err(Error::NotANumber));
        assert_eq!(parse_scaled(".", 2), Err(Error::NotANumber));
        assert_eq!(parse_scaled("abc", 2), Err(Error::NotANumber));
        assert_eq!(parse_scaled("1e5", 2), Err(Error::NotANumber));
        assert_eq!(parse_scaled("+5", 2), Err(Error::NotANumber));
        assert_eq!(parse_scaled("1.000,50", 2), Err(Error::NotANumber));
        assert_eq!(parse_scaled("1 000", 2), Err(Error::NotANumber));
        assert_eq!(parse_scaled("NaN", 2), Err(Error::NotANumber));
        assert_eq!(parse_scaled("-3", 2), Err(Error::Negative));
        assert_eq!(parse_scaled("3.555", 2), Err(Error::TooManyDecimals { max: 2 }));
        assert_eq!(parse_scaled("3.500", 2), Err(Error::TooManyDecimals { max: 2 }));
        assert_eq!(parse_scaled("1,000", 2), Err(Error::TooManyDecimals { max: 2 }));
        assert_eq!(parse_scaled("92233720368547758.08", 2), Err(Error::TooLarge));
        assert_eq!(parse_scaled("99999999999999999999999", 0), Err(Error::TooLarge));
    }

    #[test]
    fn the_largest_value_still_parses() {
        assert_eq!(parse_scaled("92233720368547758.07", 2), Ok(i64::MAX));
    }

    #[test]
    fn formats_with_the_fraction_it_needs() {
        assert_eq!(format_scaled(350, 2, 2), "3.50");
        assert_eq!(format_scaled(2500, 3, 0), "2.5");
        assert_eq!(format_scaled(3000, 3, 0), "3");
        assert_eq!(format_scaled(-5, 2, 2), "-0.05");
        assert_eq!(format_scaled(i64::MIN, 2, 2), "-92233720368547758.08");
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_is_identity(value in 0i64..=i64::MAX, scale in 0u32..=4) {
            let text = format_scaled(value, scale, 0);
            proptest::prop_assert_eq!(parse_scaled(&text, scale), Ok(value));
        }
    }
}

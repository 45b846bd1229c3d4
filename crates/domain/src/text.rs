//! Rules for the short texts people type: titles, names, addresses.
//!
//! Lengths count characters, not bytes, so a Chinese title gets the same room as an English one.

use crate::error::Error;

/// Trims `text` and checks that it is non-empty, at most `max` characters and free of control
/// characters (`Lines::Many` keeps line breaks, for a description).
pub fn clean(text: &str, max: usize, lines: Lines) -> Result<String, Error> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Error::Empty);
    }
    clean_optional(trimmed, max, lines)
}

/// Like [`clean`], but an empty text is fine.
pub fn clean_optional(text: &str, max: usize, lines: Lines) -> Result<String, Error> {
    let trimmed = text.trim();
    if trimmed.chars().count() > max {
        return Err(Error::TooLong { max });
    }
    let allowed = |c: char| lines == Lines::Many && c == '\n';
    if trimmed.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(Error::ControlCharacters);
    }
    Ok(trimmed.to_owned())
}

/// Whether a text may span several lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        let corn = "玉".repeat(120);
        assert_eq!(clean(&corn, 120, Lines::One), Ok(corn.clone()));
        assert_eq!(clean(&format!("{corn}米"), 120, Lines::One), Err(Error::TooLong { max: 120 }));
    }

    #[test]
    fn trims_and_refuses_empty_and_control_characters() {
        assert_eq!(clean("  Sweet corn \t", 20, Lines::One), Ok("Sweet corn".into()));
        assert_eq!(clean(" \n ", 20, Lines::One), Err(Error::Empty));
        assert_eq!(clean("a\u{0}b", 20, Lines::One), Err(Error::ControlCharacters));
        assert_eq!(clean("a\nb", 20, Lines::One), Err(Error::ControlCharacters));
        assert_eq!(clean("a\nb", 20, Lines::Many), Ok("a\nb".into()));
        assert_eq!(clean_optional("", 20, Lines::Many), Ok(String::new()));
    }
}

//! Free text that people type (owners, descriptions, tags, comments, reasons): bounded in length and free of
//! control characters. What is stored is printed later on terminals and pages; an escape sequence in an
//! owner's name must not reach a reviewer's terminal, and a 900,000-character field must not reach a table.

use crate::{Error, Result};

/// Whether a field may hold several lines (comments, reasons, descriptions) or is one line (owners, tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Newlines and tabs are allowed.
    Many,
    /// One line: no newline or tab.
    One,
}

/// Lengths, in characters.
pub const SHORT: usize = 256;
/// Descriptions, comments and reasons.
pub const LONG: usize = 4096;

/// Refuses a value over `max` characters or holding a control character (C0, DEL, C1) or a bidirectional
/// override (which can make a reviewer read text in another order than it is stored); the error names the
/// field and the character's position.
pub fn check(field: &str, value: &str, max: usize, lines: Lines) -> Result<()> {
    let count = value.chars().count();
    if count > max {
        return Err(Error::invalid_with(
            format!("{field} is {count} characters; the limit is {max}"),
            serde_json::json!({"field": field, "limit": max}),
        ));
    }
    if let Some((position, c)) = value.chars().enumerate().find(|&(_, c)| !allowed(c, lines)) {
        return Err(Error::invalid_with(
            format!("{field} holds the control character U+{:04X} at character {}", c as u32, position + 1),
            serde_json::json!({"field": field, "position": position + 1}),
        ));
    }
    Ok(())
}

fn allowed(c: char, lines: Lines) -> bool {
    let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    !bidi && (!c.is_control() || (lines == Lines::Many && matches!(c, '\n' | '\t')))
}

/// Makes stored text safe to print on a terminal: control characters (an old record may predate the
/// check above) are shown as `\u{…}` escapes, never sent to the terminal as they are.
pub fn printable(value: &str) -> std::borrow::Cow<'_, str> {
    if value.chars().all(|c| allowed(c, Lines::One)) {
        return value.into();
    }
    value.chars().map(|c| if allowed(c, Lines::One) { c.to_string() } else { c.escape_unicode().to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_control_characters_are_refused_naming_the_field() {
        check("owner", "Credit Risk Analytics — Zürich", SHORT, Lines::One).unwrap();
        check("comment", "line one\nline two\twith a tab", LONG, Lines::Many).unwrap();
        let long = "x".repeat(SHORT + 1);
        assert!(check("owner", &long, SHORT, Lines::One).unwrap_err().to_string().contains("owner is 257 characters"));
        for hostile in
            ["a\u{1b}[31mred", "bell\u{7}", "del\u{7f}", "c1\u{9b}", "nul\0", "rtl\u{202e}txt", "iso\u{2066}"]
        {
            let err = check("owner", hostile, SHORT, Lines::One).unwrap_err().to_string();
            assert!(err.starts_with("owner holds the control character U+"), "{hostile:?}: {err}");
        }
        assert!(check("owner", "two\nlines", SHORT, Lines::One).is_err());
        assert!(check("comment", "esc\u{1b}", LONG, Lines::Many).is_err());
    }

    #[test]
    fn printable_escapes_what_a_terminal_would_interpret() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\ny"), "x\\u{a}y");
    }
}

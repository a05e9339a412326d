//! The characters refused in user input (SPEC §3 and §6), named once for every domain type.

/// U+0000–U+001F and U+007F. PostgreSQL refuses U+0000 in text (a query with one is a
/// 500), and none of them belongs in a name, an address, a password or a message.
pub fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}')
}

pub fn has_control(s: &str) -> bool {
    s.chars().any(is_control)
}

/// Bidi controls (U+200E/F, U+202A–202E, U+2066–2069) and zero-width characters (U+200B–200D,
/// U+2060, U+FEFF): invisible, so a name holding one looks like another user's name.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_is_c0_and_del_only() {
        for c in ['\0', '\t', '\n', '\r', '\u{1b}', '\u{1f}', '\u{7f}'] {
            assert!(is_control(c), "{c:?}");
        }
        for c in [' ', 'a', '\u{80}', 'é', '🐦'] {
            assert!(!is_control(c), "{c:?}");
        }
    }

    #[test]
    fn invisible_covers_bidi_and_zero_width() {
        for c in [
            '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}',
            '\u{2060}', '\u{2066}', '\u{2069}', '\u{feff}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in [' ', 'a', '\u{2010}', '\u{2065}', '\u{202f}'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }
}

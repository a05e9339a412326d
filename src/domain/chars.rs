//! The characters refused in user input (README.md, "The web pages" and "Limits"), named once for every domain type.

/// U+0000–U+001F and U+007F. PostgreSQL refuses U+0000 in text (a query with one is a
/// 500), and none of them belongs in a name, an address or a password.
pub fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}')
}

pub fn has_control(s: &str) -> bool {
    s.chars().any(is_control)
}

/// The control characters a message may hold: line feed, carriage return and tab, because
/// people write multi-line posts (README.md, "Limits"). Every other one stays refused.
pub fn is_text_layout(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\t')
}

/// Unicode's `Default_Ignorable_Code_Point` set (DerivedCoreProperties.txt): characters a
/// renderer draws as nothing unless it has special support. It holds the bidi controls
/// (U+061C, U+200E/F, U+202A–202E, U+2066–2069), the zero-width characters (U+200B–200D,
/// U+2060–2064, U+FEFF), the soft hyphen, the Hangul fillers, the Mongolian vowel
/// separator, variation selectors and tags. A name holding one looks like another user's
/// name, or like no name at all.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
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
    fn text_layout_is_line_breaks_and_tab_only() {
        for c in ['\n', '\r', '\t'] {
            assert!(is_text_layout(c), "{c:?}");
        }
        for c in ['\0', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}', ' ', '\u{2028}'] {
            assert!(!is_text_layout(c), "{c:?}");
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
    }

    #[test]
    fn invisible_covers_the_other_default_ignorables() {
        for (c, name) in [
            ('\u{61c}', "ARABIC LETTER MARK (bidi)"),
            ('\u{ad}', "SOFT HYPHEN"),
            ('\u{2061}', "FUNCTION APPLICATION"),
            ('\u{2062}', "INVISIBLE TIMES"),
            ('\u{2063}', "INVISIBLE SEPARATOR"),
            ('\u{2064}', "INVISIBLE PLUS"),
            ('\u{180e}', "MONGOLIAN VOWEL SEPARATOR"),
            ('\u{3164}', "HANGUL FILLER"),
            ('\u{115f}', "HANGUL CHOSEONG FILLER"),
            ('\u{1160}', "HANGUL JUNGSEONG FILLER"),
            ('\u{ffa0}', "HALFWIDTH HANGUL FILLER"),
            ('\u{fe00}', "VARIATION SELECTOR-1"),
            ('\u{fe0f}', "VARIATION SELECTOR-16"),
            ('\u{e0100}', "VARIATION SELECTOR-17"),
            ('\u{e01ef}', "VARIATION SELECTOR-256"),
            ('\u{34f}', "COMBINING GRAPHEME JOINER"),
            ('\u{180b}', "MONGOLIAN FREE VARIATION SELECTOR ONE"),
            ('\u{e0041}', "TAG LATIN CAPITAL LETTER A"),
        ] {
            assert!(is_invisible(c), "{name} (U+{:04X})", u32::from(c));
        }
    }

    #[test]
    fn visible_neighbours_are_not_invisible() {
        for c in [
            ' ',
            'a',
            '-',
            '\u{ac}',
            '\u{ae}',
            '\u{61b}',
            '\u{61d}',
            '\u{2010}',
            '\u{2070}',
            '\u{202f}',
            '\u{3163}',
            '\u{3165}',
            '\u{fdff}',
            '\u{fe10}',
            '\u{ff9f}',
            '\u{ffa1}',
            '\u{e1000}',
            '\u{1161}',
            'ᄀ',
            '🐦',
        ] {
            assert!(!is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }
}

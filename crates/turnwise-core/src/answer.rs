//! Answer keys shared by environments and credit methods.

/// The "minimal normalisation" under which two answers count as the same
/// (unary-feedback's `_minimal_normalize_answer`: `re.sub(r'\s+', '', a.strip().lower())`):
/// lower-cased, every whitespace character removed, so `"X"`, `"x"` and `" x "` are one
/// answer while `"1/2"` and `"0.5"` stay two. Whitespace is Python's `\s`: Unicode
/// white space plus the separators U+001C–U+001F.
pub fn minimal_key(answer: &str) -> String {
    answer
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && !('\u{1c}'..='\u{1f}').contains(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::minimal_key;

    #[test]
    fn case_and_all_whitespace_are_ignored() {
        assert_eq!(minimal_key("X"), minimal_key("x"));
        assert_eq!(minimal_key(" 4 2\t"), "42");
        assert_eq!(minimal_key("a\u{1f}b\u{a0}c"), "abc");
        assert_ne!(minimal_key("1/2"), minimal_key("0.5"));
    }
}

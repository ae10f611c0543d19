//! The shipped word lists (`crates/turnwise-envs/data/`, see `LICENSE-DATA.md`).

use std::sync::OnceLock;

/// A word as five letter indices 0..26.
pub type Word = [u8; 5];

fn parse(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.len() == 5)
        .collect()
}

/// LMRL-Gym's `wordle_official_400.txt` (431 words).
pub fn lmrl_400() -> &'static [&'static str] {
    static W: OnceLock<Vec<&'static str>> = OnceLock::new();
    W.get_or_init(|| parse(include_str!("../../../data/lmrl_400.txt")))
}

/// The 2,315 official answers.
pub fn answers() -> &'static [&'static str] {
    static W: OnceLock<Vec<&'static str>> = OnceLock::new();
    W.get_or_init(|| parse(include_str!("../../../data/answers_2315.txt")))
}

/// The 12,972 accepted guesses (answers included), sorted for binary search.
pub fn guesses() -> &'static [&'static str] {
    static W: OnceLock<Vec<&'static str>> = OnceLock::new();
    W.get_or_init(|| {
        let mut v = parse(include_str!("../../../data/guesses_12972.txt"));
        v.sort_unstable();
        v
    })
}

/// Index of `w` in `list` (one of the lists above), via a map built once per list.
pub fn index_of(list: &'static [&'static str], w: &str) -> Option<u16> {
    use std::collections::HashMap;
    static MAPS: OnceLock<[HashMap<&'static str, u16>; 2]> = OnceLock::new();
    let maps = MAPS.get_or_init(|| {
        let m = |l: &'static [&'static str]| {
            l.iter()
                .enumerate()
                .map(|(i, w)| (*w, i as u16))
                .collect::<HashMap<_, _>>()
        };
        [m(lmrl_400()), m(answers())]
    });
    let map = if std::ptr::eq(list, lmrl_400()) {
        &maps[0]
    } else if std::ptr::eq(list, answers()) {
        &maps[1]
    } else {
        return list.iter().position(|x| *x == w).map(|i| i as u16);
    };
    map.get(w).copied()
}

/// The letters of a lowercase ASCII five-letter word.
pub fn letters(w: &str) -> Word {
    let b = w.as_bytes();
    [
        b[0] - b'a',
        b[1] - b'a',
        b[2] - b'a',
        b[3] - b'a',
        b[4] - b'a',
    ]
}

/// LMRL's action deformatting (`deformat_history`): strip, then remove spaces; the result
/// is a guess if it is five ASCII lowercase letters.
pub fn parse_guess(action: &str) -> Option<String> {
    let w: String = action.trim().chars().filter(|c| *c != ' ').collect();
    (w.len() == 5 && w.bytes().all(|b| b.is_ascii_lowercase())).then_some(w)
}

/// `"c r a n e"`: LMRL's action format.
pub fn spaced(w: &str) -> String {
    let mut s = String::with_capacity(9);
    for (i, c) in w.chars().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push(c);
    }
    s
}

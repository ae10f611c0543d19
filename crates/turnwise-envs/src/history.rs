//! History modes (spec §10.1.5): the full concatenated context (RAGEN, UFO), a
//! step-independent prompt with the last k turns (verl-agent; LMRL `last_k`), or only the
//! current observation.

/// How much of the past a prompt shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryMode {
    /// Every past turn (the prompt only grows: append the new text).
    Full,
    /// The last k past turns (the prompt is rebuilt each turn).
    LastK(usize),
    /// Only the current observation.
    None,
}

impl std::str::FromStr for HistoryMode {
    type Err = String;
    /// `full`, `none`, or `last-K` (e.g. `last-20`).
    fn from_str(s: &str) -> Result<HistoryMode, String> {
        match s {
            "full" => Ok(HistoryMode::Full),
            "none" => Ok(HistoryMode::None),
            _ => s
                .strip_prefix("last-")
                .and_then(|k| k.parse().ok())
                .map(HistoryMode::LastK)
                .ok_or_else(|| {
                    format!("unknown history mode `{s}` (expected full, none or last-K)")
                }),
        }
    }
}

/// One past turn as text: the observation block shown, then the policy's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnText {
    /// The observation block (from [`crate::render::Style::observation`]).
    pub observation: String,
    /// The policy's output, stop string included.
    pub action: String,
}

/// Builds prompts from past turns.
pub struct History;

impl History {
    /// The prompt for the next action: `preamble`, the past turns that `mode` keeps, then
    /// the current observation block.
    pub fn render(mode: HistoryMode, preamble: &str, past: &[TurnText], current: &str) -> String {
        let keep = match mode {
            HistoryMode::Full => past.len(),
            HistoryMode::LastK(k) => k.min(past.len()),
            HistoryMode::None => 0,
        };
        let mut out = String::from(preamble);
        for t in &past[past.len() - keep..] {
            out.push_str(&t.observation);
            out.push_str(&t.action);
        }
        out.push_str(current);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(n: usize) -> Vec<TurnText> {
        (0..n)
            .map(|i| TurnText {
                observation: format!("o{i}|"),
                action: format!("a{i}|"),
            })
            .collect()
    }

    #[test]
    fn modes_keep_the_right_turns() {
        let p = turns(3);
        assert_eq!(
            History::render(HistoryMode::Full, "P|", &p, "c"),
            "P|o0|a0|o1|a1|o2|a2|c"
        );
        assert_eq!(
            History::render(HistoryMode::LastK(1), "P|", &p, "c"),
            "P|o2|a2|c"
        );
        assert_eq!(
            History::render(HistoryMode::LastK(9), "", &p, "c"),
            "o0|a0|o1|a1|o2|a2|c"
        );
        assert_eq!(History::render(HistoryMode::None, "P|", &p, "c"), "P|c");
        assert_eq!("last-20".parse(), Ok(HistoryMode::LastK(20)));
        assert!("last-x".parse::<HistoryMode>().is_err());
    }
}

//! Published numbers shown beside turnwise's: LMRL-Gym's Table 2 (arXiv 2311.18232v1;
//! GPT-2-family policies, one run per cell, no error bars), on LMRL's normalised scale
//! (0 = minimum return, 50 = the offline dataset's average, 100 = the maximum).

/// Column names of LMRL-Gym's Table 2.
pub const LMRL_METHODS: [&str; 7] = [
    "BC",
    "%BC",
    "MC Return",
    "ILQL",
    "Online PPO",
    "Online %BC",
    "GPT-4",
];

/// LMRL-Gym Table 2 rows for the environments turnwise replicates.
pub const LMRL_TABLE2: [(&str, [f64; 7]); 3] = [
    ("lmrl/maze-fo", [58.2, 68.9, 75.0, 99.9, 79.7, 57.4, 78.2]),
    ("lmrl/maze-po", [53.1, 50.1, 52.4, 76.3, 42.4, 53.1, 60.4]),
    ("lmrl/wordle", [79.9, 79.1, 94.9, 97.7, 84.2, 95.2, 15.4]),
];

/// The Table 2 row of `env` (None for environments LMRL-Gym does not have).
pub fn lmrl_row(env: &str) -> Option<&'static [f64; 7]> {
    LMRL_TABLE2.iter().find(|r| r.0 == env).map(|r| &r.1)
}

/// The best Table 2 entry of `env`: (method, score).
pub fn lmrl_best(env: &str) -> Option<(&'static str, f64)> {
    let row = lmrl_row(env)?;
    let i = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b]))?;
    Some((LMRL_METHODS[i], row[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_entries_are_the_papers_headlines() {
        assert_eq!(lmrl_best("lmrl/maze-fo"), Some(("ILQL", 99.9)));
        assert_eq!(lmrl_best("lmrl/maze-po"), Some(("ILQL", 76.3)));
        assert_eq!(lmrl_best("lmrl/wordle"), Some(("ILQL", 97.7)));
        assert_eq!(lmrl_best("ragen/sokoban"), None);
    }
}

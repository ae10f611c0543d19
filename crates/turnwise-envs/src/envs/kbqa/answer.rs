//! Answer scoring of `tools/kbqa`: exact match and token F1 after SQuAD's answer
//! normalisation (lower-case, punctuation removed, the articles `a`, `an`, `the` removed,
//! whitespace collapsed), as in the SQuAD v1.1 evaluation script, Search-R1's EM reward
//! and IGPO's F1 reward.

use std::collections::HashMap;

/// SQuAD's `normalize_answer`: the answer's tokens.
pub fn normalise(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let no_punct: String = lower
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    no_punct
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .map(str::to_owned)
        .collect()
}

/// Exact match of the normalised answers.
pub fn exact_match(prediction: &str, gold: &str) -> bool {
    normalise(prediction) == normalise(gold)
}

/// Token F1 of the normalised answers (SQuAD `f1_score`): the harmonic mean of token
/// precision and recall with multiset overlap; 0 when either side is empty or nothing
/// overlaps.
pub fn token_f1(prediction: &str, gold: &str) -> f64 {
    let p = normalise(prediction);
    let g = normalise(gold);
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for t in &g {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0i64;
    for t in &p {
        if let Some(c) = counts.get_mut(t.as_str()) {
            if *c > 0 {
                *c -= 1;
                same += 1;
            }
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / p.len() as f64;
    let recall = same as f64 / g.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squad_normalisation_and_f1() {
        assert!(exact_match("The Brannic Works.", "brannic works"));
        assert!(!exact_match("Brannic", "Brannic Works"));
        assert_eq!(token_f1("Brannic", "Brannic Works"), 2.0 / 3.0);
        assert_eq!(token_f1("", "x"), 0.0);
        assert_eq!(token_f1("a the", "x"), 0.0);
        assert_eq!(token_f1("x x y", "x y y"), 2.0 / 3.0);
        assert_eq!(token_f1("1962", "1962"), 1.0);
    }
}

//! Answer clustering for SIOP's outcome modes (`credit-turn.md` §3 "Production of the
//! inputs"). The authors cluster the G answers of a prompt greedily: the first unassigned
//! answer opens a cluster and every later unassigned answer that is *equivalent* joins it.
//! Equivalence is bidirectional NLI entailment in the paper (DeBERTa-v2-xlarge-MNLI over
//! `question + " " + answer`); here it is string equality, exact ([`ExactClusterer`]) or
//! after normalisation ([`NormalizedClusterer`], the default).
//!
//! # Plugging in a semantic (NLI) clusterer
//! Implement [`Clusterer`] with [`greedy_clusters`] and an equivalence that asks the NLI
//! model whether `question + " " + a` entails `question + " " + b` and vice versa (strict:
//! both predict "entailment"; loose: no contradiction and not both neutral). The question
//! can be read from the group (e.g. the first turn's observation) or captured when the
//! clusterer is built; batch the NLI calls per group. Pass it to
//! [`siop_advantages`](crate::turn::siop::siop_advantages). When trajectories carry
//! `answer_cluster`, no clusterer runs: the given ids are used as they are.

use turnwise_core::Group;

/// Assigns the answers of one prompt group to outcome modes.
pub trait Clusterer: Sync {
    /// Short name (`exact`, `normalized`, `nli`, …).
    fn name(&self) -> &'static str;

    /// `answers[i]` is the final answer of trajectory `i` of `group` (`None`: no answer).
    /// Writes `labels[i]`: `Some(cluster)` with clusters numbered 0, 1, … in order of first
    /// appearance, `None` for a trajectory without an answer.
    fn cluster(&self, group: &Group, answers: &[Option<&str>], labels: &mut [Option<u32>]);
}

/// SIOP's greedy clustering (`nli_clustering.py`) under an equivalence `same(i, j)`:
/// answer `i` joins the cluster opened by the first earlier answer equivalent to it.
pub fn greedy_clusters(
    answers: &[Option<&str>],
    labels: &mut [Option<u32>],
    mut same: impl FnMut(usize, usize) -> bool,
) {
    let mut heads: Vec<usize> = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        labels[i] = None;
        if a.is_none() {
            continue;
        }
        let found = heads.iter().position(|&h| same(h, i));
        labels[i] = Some(match found {
            Some(c) => c as u32,
            None => {
                heads.push(i);
                (heads.len() - 1) as u32
            }
        });
    }
}

/// Clusters by exact string equality.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactClusterer;

impl Clusterer for ExactClusterer {
    fn name(&self) -> &'static str {
        "exact"
    }

    fn cluster(&self, _: &Group, answers: &[Option<&str>], labels: &mut [Option<u32>]) {
        greedy_clusters(answers, labels, |i, j| answers[i] == answers[j]);
    }
}

/// Clusters by equality of [`normalize_answer`]: case, whitespace, punctuation and number
/// formatting (`"3.0"` = `"3"`, `"1,000"` = `"1000"`) are ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct NormalizedClusterer;

impl Clusterer for NormalizedClusterer {
    fn name(&self) -> &'static str {
        "normalized"
    }

    fn cluster(&self, _: &Group, answers: &[Option<&str>], labels: &mut [Option<u32>]) {
        let keys: Vec<String> = answers
            .iter()
            .map(|a| a.map(normalize_answer).unwrap_or_default())
            .collect();
        greedy_clusters(answers, labels, |i, j| keys[i] == keys[j]);
    }
}

/// The clusterer registered under `name` (`exact` or `normalized`).
pub fn by_name(name: &str) -> &'static dyn Clusterer {
    match name {
        "exact" => &ExactClusterer,
        _ => &NormalizedClusterer,
    }
}

/// Canonical form of an answer: lower case; words split at whitespace; a word that reads
/// as a number (after trimming surrounding punctuation and dropping thousands commas) is
/// written in shortest form (`3.0` → `3`, `+1e3` → `1000`); in other words punctuation
/// becomes a space; words are joined by single spaces.
pub fn normalize_answer(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let push = |w: &str, out: &mut String| {
        if !w.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
    };
    for word in s.split_whitespace() {
        let core = word.trim_matches(|c: char| !c.is_alphanumeric() && !"+-.".contains(c));
        let core = core.trim_end_matches('.');
        let digits: String = core.chars().filter(|&c| c != ',').collect();
        let numeric = digits.chars().any(|c| c.is_ascii_digit())
            && digits
                .chars()
                .all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
        if let Some(x) = numeric.then(|| digits.parse::<f64>().ok()).flatten() {
            let x = if x == 0.0 { 0.0 } else { x };
            push(&format!("{x}"), &mut out);
            continue;
        }
        let lower = word.to_lowercase();
        for part in lower.split(|c: char| !c.is_alphanumeric()) {
            push(part, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(c: &dyn Clusterer, answers: &[Option<&str>]) -> Vec<Option<u32>> {
        let mut l = vec![None; answers.len()];
        c.cluster(&Group::default(), answers, &mut l);
        l
    }

    #[test]
    fn normalisation_ignores_case_space_punctuation_and_number_format() {
        assert_eq!(normalize_answer("  Paris, France! "), "paris france");
        assert_eq!(normalize_answer("3.0"), normalize_answer("3"));
        assert_eq!(normalize_answer("1,000 apples."), "1000 apples");
        assert_eq!(normalize_answer("-0.50"), "-0.5");
        assert_ne!(normalize_answer("3.5"), normalize_answer("35"));
        assert_eq!(normalize_answer("New-York"), "new york");
    }

    #[test]
    fn clusterers_number_modes_in_first_appearance_order() {
        let a = [
            Some("Paris"),
            None,
            Some("paris."),
            Some("Rome"),
            Some("3.0"),
            Some("3"),
        ];
        assert_eq!(
            labels(&NormalizedClusterer, &a),
            [Some(0), None, Some(0), Some(1), Some(2), Some(2)]
        );
        assert_eq!(
            labels(&ExactClusterer, &a),
            [Some(0), None, Some(1), Some(2), Some(3), Some(4)]
        );
    }
}

//! `math/arith`: a single-answer task of generated arithmetic and GSM-style word problems
//! with exact integer answers (spec §10 row 9; §4 uses such tasks inside the try-again
//! wrapper). The action is the final answer (the content of `<answer>…</answer>`);
//! numbers are compared exactly after removing `$`, commas and spaces (`1,200`, `$42`,
//! `42.0` and `84/2` all equal 42). Reward 1 if correct, else 0; a non-number is invalid.
//! With `answer=free` the whole reply is the action and its last number is the answer
//! ([`last_number`], verl's GSM8K `flexible` rule), for models too small to write tags.

pub mod problems;

use rand::Rng as _;

use crate::env::{ActionFormat, Env, Info, Observation, Step, Text};
use crate::error::EnvError;
use crate::options::{InvalidPolicy, OptionKind, OptionSpec, Options};
use crate::registry::EnvSpec;
use crate::seeding::episode_rng;
use problems::Problem;

/// UFO's math instruction (`ragen/env/metamathqa/env.py`, spec §4).
pub const INSTRUCTION: &str =
    "You are solving Math problems. Only give the final answer between <answer> and </answer>.";

/// The instruction of `answer=free`: no tags, the reply's last number is graded.
pub const FREE_INSTRUCTION: &str =
    "You are solving Math problems. Work it out, then end your reply with the final answer as a number.";

/// The last number written in `text` (verl's GSM8K `flexible` extraction: the last match
/// of `-?[0-9.,$/]+` that [`parse_number`] accepts), as the text of that number.
pub fn last_number(text: &str) -> Option<&str> {
    let is_num = |c: char| c.is_ascii_digit() || matches!(c, '-' | '.' | ',' | '$' | '/');
    let mut end = text.len();
    // Each run of number characters, last first (all of them ASCII, so byte offsets
    // next to them are character boundaries).
    while let Some(d) = text[..end].rfind(|c: char| c.is_ascii_digit()) {
        let e = d + 1;
        let s = text[..e]
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_num(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let run = &text[s..e];
        // The longest suffix of the run that starts a number and parses (`10-5` gives `5`,
        // `=-4` gives `-4`, `1,200` stays whole).
        let b = run.as_bytes();
        let found = (0..b.len())
            .filter(|&i| {
                matches!(b[i], b'0'..=b'9' | b'-' | b'$') && (i == 0 || !b[i - 1].is_ascii_digit())
            })
            .map(|i| &run[i..])
            .find(|c| parse_number(c).is_some());
        if found.is_some() {
            return found;
        }
        end = s;
    }
    None
}

/// Parses an answer as an exact rational `(numerator, denominator)` in lowest terms:
/// integers, decimals and fractions, after stripping `$`, `,`, spaces and a final `.`.
pub fn parse_number(text: &str) -> Option<(i128, i128)> {
    let t: String = text
        .trim()
        .trim_end_matches('.')
        .chars()
        .filter(|c| !matches!(c, '$' | ',' | ' '))
        .collect();
    if t.is_empty() || t.len() > 40 {
        return None;
    }
    let (num, den) = match t.split_once('/') {
        Some((a, b)) => {
            let (an, ad) = decimal(a)?;
            let (bn, bd) = decimal(b)?;
            if bn == 0 {
                return None;
            }
            (an.checked_mul(bd)?, ad.checked_mul(bn)?)
        }
        None => decimal(&t)?,
    };
    let g = gcd(num.abs(), den.abs()).max(1);
    let s = if den < 0 { -1 } else { 1 };
    Some((s * num / g, s * den / g))
}

fn decimal(t: &str) -> Option<(i128, i128)> {
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (ip, fp) = t.split_once('.').unwrap_or((t, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    if !ip.bytes().chain(fp.bytes()).all(|b| b.is_ascii_digit()) || fp.len() > 18 {
        return None;
    }
    let digits = format!("{ip}{fp}");
    let n: i128 = digits.parse().ok()?;
    let d = 10i128.checked_pow(fp.len() as u32)?;
    Some((if neg { -n } else { n }, d))
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Which problems to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Arithmetic expressions only.
    Arith,
    /// Word problems only.
    Word,
    /// Either, with equal probability.
    Mixed,
}

/// The math environment: one question, one answer.
#[derive(Debug, Clone)]
pub struct Math {
    kind: Kind,
    free: bool,
    difficulty: u32,
    invalid: InvalidPolicy,
    problem: Problem,
    answer_text: String,
    done: bool,
}

impl Math {
    /// The current problem.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl Env for Math {
    crate::snapshot_by_clone!();

    fn reset(&mut self, seed: u64) -> Observation {
        let mut rng = episode_rng(SPEC.name, seed);
        let word = match self.kind {
            Kind::Arith => false,
            Kind::Word => true,
            Kind::Mixed => rng.random_bool(0.5),
        };
        self.problem = if word {
            problems::word_problem(&mut rng, self.difficulty)
        } else {
            problems::arithmetic(&mut rng, self.difficulty)
        };
        self.answer_text = self.problem.answer.to_string();
        self.done = false;
        Observation {
            text: Text::Owned(self.problem.question.clone()),
            info: Info {
                action_valid: true,
                ground_truth: Some(Text::Owned(self.answer_text.clone())),
                state_key: Some(Text::Owned(self.problem.question.clone())),
                ..Info::default()
            },
        }
    }

    fn step(&mut self, action: &str) -> Step {
        if self.done {
            return Step {
                terminated: true,
                ..Step::default()
            };
        }
        self.done = true;
        let answer = if self.free {
            last_number(action)
        } else {
            Some(action)
        };
        let parsed = answer.and_then(parse_number);
        let correct = parsed == Some((self.problem.answer as i128, 1));
        Step {
            observation: Text::Borrowed(""),
            reward: match (parsed, correct) {
                (None, _) => self.invalid.penalty,
                (_, true) => 1.0,
                _ => 0.0,
            },
            terminated: true,
            truncated: false,
            info: Info {
                success: correct,
                action_valid: parsed.is_some(),
                action_effective: parsed.is_some(),
                ground_truth: Some(Text::Owned(self.answer_text.clone())),
                state_key: Some(Text::Owned(self.problem.question.clone())),
                answer: match (self.free, answer) {
                    (true, Some(a)) => Some(Text::Owned(a.to_owned())),
                    _ => None,
                },
                ..Info::default()
            },
        }
    }

    fn instructions(&self) -> Text {
        Text::Borrowed(if self.free {
            FREE_INSTRUCTION
        } else {
            INSTRUCTION
        })
    }

    fn action_format(&self) -> ActionFormat {
        if self.free {
            ActionFormat::Free
        } else {
            ActionFormat::AnswerTag
        }
    }

    /// The exact answer.
    fn expert_action(&self) -> Option<String> {
        (!self.done).then(|| self.answer_text.clone())
    }

    /// The exact answer.
    fn gold_action(&self) -> Option<String> {
        Some(self.answer_text.clone())
    }

    /// The single step is a graded answer: `valid`, `answer`, `correct`.
    fn credit_fields(&self) -> &'static [&'static str] {
        &["valid", "answer", "correct"]
    }

    fn action_space(&self) -> Vec<Text> {
        let a = self.problem.answer;
        [a - 1, a, a + 1, a * 2, 0]
            .iter()
            .map(|x| Text::Owned(x.to_string()))
            .collect()
    }
}

fn make(opts: &Options) -> Result<Box<dyn Env>, EnvError> {
    let kind = match opts.str("kind") {
        "arith" => Kind::Arith,
        "word" => Kind::Word,
        _ => Kind::Mixed,
    };
    Ok(Box::new(Math {
        kind,
        free: opts.str("answer") == "free",
        difficulty: opts.count("difficulty", 0, 3)? as u32,
        invalid: InvalidPolicy::from_options(opts),
        problem: Problem {
            question: String::new(),
            answer: 0,
        },
        answer_text: String::new(),
        done: true,
    }))
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "kind",
        kind: OptionKind::Choice(&["mixed", "arith", "word"]),
        default: "mixed",
        doc: "arithmetic expressions, GSM-style word problems, or both",
    },
    OptionSpec {
        name: "difficulty",
        kind: OptionKind::Int,
        default: "2",
        doc: "0..=3: number sizes and operand count (0: one operation on 1..=10; word problems treat 0 as 1)",
    },
    OptionSpec {
        name: "answer",
        kind: OptionKind::Choice(&["tag", "free"]),
        default: "tag",
        doc: "tag: the answer is the content of <answer>...</answer> (UFO); free: the whole reply is the action and its last number is graded (verl's GSM8K flexible rule)",
    },
    OptionSpec {
        name: "invalid_penalty",
        kind: OptionKind::Float,
        default: "0",
        doc: "reward of an answer that is not a number",
    },
    OptionSpec {
        name: "invalid_consumes_turn",
        kind: OptionKind::Bool,
        default: "true",
        doc: "single-answer task: the episode always ends after the answer",
    },
];

/// `math/arith`.
pub static SPEC: EnvSpec = EnvSpec {
    name: "math/arith",
    doc: "Generated arithmetic and GSM-style word problems with exact integer answers; one answer, reward 1 if exactly right. Use inside `try-again` for UFO.",
    options: OPTIONS,
    make,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_exactly() {
        assert_eq!(parse_number("42"), Some((42, 1)));
        assert_eq!(parse_number(" $1,200. "), Some((1200, 1)));
        assert_eq!(parse_number("42.0"), Some((42, 1)));
        assert_eq!(parse_number("84/2"), Some((42, 1)));
        assert_eq!(parse_number("-0.5"), Some((-1, 2)));
        assert_eq!(parse_number("1/0"), None);
        assert_eq!(parse_number("forty"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("."), None);
    }

    #[test]
    fn the_last_number_of_a_reply_is_its_answer() {
        assert_eq!(last_number("11 + 6 = 17"), Some("17"));
        assert_eq!(last_number("So the answer is 1,200."), Some("1,200"));
        assert_eq!(last_number("It costs $42 in total"), Some("$42"));
        assert_eq!(last_number("5 - 9 = -4\n"), Some("-4"));
        assert_eq!(last_number("half is 1/2."), Some("1/2"));
        assert_eq!(last_number("3.5 then 2."), Some("2"));
        assert_eq!(last_number("12 apples, none left -"), Some("12"));
        assert_eq!(last_number("no numbers here"), None);
        assert_eq!(last_number(""), None);
        assert_eq!(last_number("x = 7 and é 8é"), Some("8"));
        assert_eq!(last_number("so 10-5"), Some("5"));
        assert_eq!(last_number("a=-4"), Some("-4"));
    }

    #[test]
    fn free_answers_grade_the_last_number_and_report_it() {
        let opts = ["kind=arith", "difficulty=0", "answer=free"].map(String::from);
        let mut env = crate::registry::make_from_strings("math/arith", &opts).unwrap();
        env.reset(3);
        let gold = env.gold_action().unwrap();
        assert_eq!(env.action_format(), ActionFormat::Free);
        let s = env.step(&format!("Let me add.\nThe result is {gold}."));
        assert!(s.info.success && s.info.action_valid, "{gold}");
        assert_eq!(s.info.answer.as_deref(), Some(gold.as_str()));
        env.reset(3);
        let s = env.step("I do not know");
        assert!(!s.info.action_valid && !s.info.success);
    }
}

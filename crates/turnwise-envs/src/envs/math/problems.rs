//! Seeded problem generators with exact integer answers: arithmetic expressions and
//! GSM-style word problems (spec §10 row 9 "math/gsm-gen"; the templates are turnwise's
//! own, written in the style of GSM8K — no dataset text is shipped).

use rand::seq::IndexedRandom as _;
use rand::Rng as _;
use turnwise_core::seed::Rng;

/// A generated problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The question text.
    pub question: String,
    /// The exact answer.
    pub answer: i64,
}

const NAMES: [&str; 12] = [
    "Ava", "Ben", "Chloe", "Diego", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Liam",
];
const ITEMS: [&str; 8] = [
    "apples", "stickers", "pencils", "marbles", "cookies", "stamps", "shells", "cards",
];

/// An arithmetic expression over `2 + difficulty` operands with `+ - *` and parentheses
/// (difficulty 0: one operation on numbers 1..=10); intermediate values stay within ±10^6.
pub fn arithmetic(rng: &mut Rng, difficulty: u32) -> Problem {
    let difficulty = difficulty.min(3);
    let hi = [10, 20, 100, 1000][difficulty as usize];
    let mut text = rng.random_range(1..=hi).to_string();
    let mut value: i64 = text.parse().unwrap_or(0);
    for i in 0..(1 + difficulty) {
        let x: i64 = rng.random_range(1..=hi);
        let op = ['+', '-', '*'][rng.random_range(0..3)];
        let op = if op == '*' && value.abs() * x > 1_000_000 {
            '+'
        } else {
            op
        };
        text = if i > 0 && op == '*' {
            format!("({text}) {op} {x}")
        } else {
            format!("{text} {op} {x}")
        };
        value = match op {
            '+' => value + x,
            '-' => value - x,
            _ => value * x,
        };
    }
    Problem {
        question: format!("Compute {text}."),
        answer: value,
    }
}

/// A multi-step word problem from one of eight templates.
pub fn word_problem(rng: &mut Rng, difficulty: u32) -> Problem {
    let s = difficulty.clamp(1, 3) as i64;
    let name = *NAMES.choose(rng).unwrap_or(&"Ava");
    let other = *NAMES.choose(rng).unwrap_or(&"Ben");
    let item = *ITEMS.choose(rng).unwrap_or(&"apples");
    let mut r = |lo: i64, hi: i64| rng.random_range(lo..=hi * s);
    match r(0, 7) % 8 {
        0 => {
            let (a, b, c) = (r(5, 30), r(2, 6), r(3, 12));
            let d = r(1, a + b * c - 1).min(a + b * c - 1);
            Problem {
                question: format!("{name} has {a} {item}. {name} buys {b} packs with {c} {item} in each pack, then gives {d} {item} to a friend. How many {item} does {name} have now?"),
                answer: a + b * c - d,
            }
        }
        1 => {
            let (p, n) = (r(2, 15), r(2, 9));
            let bill = ((p * n) / 10 + 1 + r(0, 3)) * 10;
            Problem {
                question: format!("A shop sells {item} for ${p} each. {name} buys {n} of them and pays with ${bill}. How many dollars of change does {name} get?"),
                answer: bill - p * n,
            }
        }
        2 => {
            let (p, d, q, e) = (r(5, 40), r(2, 7), r(5, 40), r(2, 7));
            Problem {
                question: format!("{name} reads {p} pages a day for {d} days, then {q} pages a day for the next {e} days. How many pages does {name} read in total?"),
                answer: p * d + q * e,
            }
        }
        3 => {
            let (v, h, w, k) = (r(30, 90), r(1, 5), r(30, 90), r(1, 5));
            Problem {
                question: format!("A train travels at {v} km per hour for {h} hours, then at {w} km per hour for {k} hours. How many kilometres does it travel in total?"),
                answer: v * h + w * k,
            }
        }
        4 => {
            let (a, m) = (r(3, 25), r(2, 6));
            Problem {
                question: format!("{name} has {a} {item}. {other} has {m} times as many {item} as {name}. How many {item} do they have together?"),
                answer: a + a * m,
            }
        }
        5 => {
            let (rows, cols) = (r(3, 15), r(4, 12));
            let taken = r(1, rows * cols);
            let taken = taken.min(rows * cols);
            Problem {
                question: format!("A hall has {rows} rows of {cols} chairs. {taken} chairs are taken. How many chairs are free?"),
                answer: rows * cols - taken,
            }
        }
        6 => {
            let (save, weeks) = (r(3, 25), r(2, 20));
            Problem {
                question: format!("{name} saves ${save} every week. After how many weeks will {name} have saved exactly ${}?", save * weeks),
                answer: weeks,
            }
        }
        _ => {
            let price = r(1, 20) * 20;
            let off = r(1, 9) % 19 * 5;
            let off = off.clamp(5, 90);
            Problem {
                question: format!("A jacket costs ${price}. It is on sale for {off}% off. What is the sale price in dollars?"),
                answer: price * (100 - off) / 100,
            }
        }
    }
}

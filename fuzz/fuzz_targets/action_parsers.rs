//! Fuzzes every action parser: each registered environment's `step` (maze exact match,
//! Wordle guess parsing, RAGEN `||` splitting, math number parsing, try-again) and the
//! faithful / chat output parsers. Run with `cargo +nightly fuzz run action_parsers`
//! from the repository root (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnwise_envs::registry::{self, ALL};
use turnwise_envs::render::Style;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let seed = u64::from_le_bytes(data[..8].try_into().unwrap());
    let pick = data[8] as usize % ALL.len();
    let text = String::from_utf8_lossy(&data[9..]);
    let mut env = registry::make(ALL[pick].name, &[]).expect("defaults always build");
    env.reset(seed);
    for style in [Style::Faithful, Style::Chat] {
        let parsed = style.parse(env.as_ref(), &text);
        let step = env.step(parsed.action);
        assert!(step.reward.is_finite());
    }
    let step = env.step(&text);
    assert!(step.reward.is_finite());
    let _ = turnwise_envs::envs::math::parse_number(&text);
    let _ = turnwise_envs::envs::wordle::words::parse_guess(&text);
});

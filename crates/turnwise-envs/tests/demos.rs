//! Demonstrations: the trajectory format round-trips through turnwise-core's reader,
//! outcomes equal returns, anchors are state keys, and noise = 0 reproduces the expert.

use turnwise_envs::demos::{self, DemoConfig};
use turnwise_envs::render::Style;
use turnwise_envs::{registry, score};

#[test]
fn maze_demos_roundtrip_and_score() {
    let mut env = registry::make("lmrl/maze-fo", &[]).unwrap();
    let cfg = DemoConfig {
        noise: 0.0,
        style: Style::Faithful,
        max_turns: 1000,
        max_tokens: 100,
    };
    let mut rng = turnwise_core::seed::rng(0, 1);
    let dir = std::env::temp_dir().join(format!("tw-demos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.jsonl");
    let mut w = turnwise_core::jsonl::AtomicWriter::create(&path).unwrap();
    let mut total = 0.0;
    for i in 0..50 {
        let g = demos::group(env.as_mut(), "lmrl/maze-fo", i, 2, &cfg, &mut rng);
        for t in &g.trajectories {
            assert_eq!(t.outcome, Some(t.total_reward()));
            assert!(t.terminated && !t.truncated);
            assert!(t.turns.iter().all(|u| u.action.text.ends_with('\n')));
            assert!(t.turns.iter().all(|u| u.anchor.is_some()));
            total += t.outcome.unwrap();
        }
        assert_eq!(
            g.trajectories[0],
            g.trajectories[1].clone().tap_id(&g.trajectories[0].id)
        );
        w.write_group(&g).unwrap();
    }
    w.commit().unwrap();
    let batch = turnwise_core::jsonl::read_batch(&path).unwrap();
    assert_eq!(batch.num_trajectories(), 100);
    let mean = total / 100.0;
    assert!(score::MAZE_FO.score(mean) > 99.0, "{mean}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn noisy_demos_take_random_actions() {
    let mut env = registry::make("lmrl/maze-fo", &[]).unwrap();
    let cfg = DemoConfig {
        noise: 0.5,
        style: Style::Chat,
        max_turns: 1000,
        max_tokens: 100,
    };
    let mut rng = turnwise_core::seed::rng(0, 1);
    let mut clean = 0.0;
    let mut noisy = 0.0;
    for i in 0..100 {
        let t = demos::episode(env.as_mut(), "lmrl/maze-fo", i, &cfg, &mut rng);
        assert!(t.turns[0]
            .action
            .text
            .starts_with("<think></think><answer>"));
        noisy += t.outcome.unwrap();
        let c = DemoConfig { noise: 0.0, ..cfg };
        clean += demos::episode(env.as_mut(), "lmrl/maze-fo", i, &c, &mut rng)
            .outcome
            .unwrap();
    }
    assert!(noisy < clean);
}

trait TapId {
    fn tap_id(self, id: &str) -> Self;
}
impl TapId for turnwise_core::Trajectory {
    fn tap_id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }
}

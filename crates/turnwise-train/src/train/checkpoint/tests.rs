use std::path::Path;

use tch::Tensor;

use super::*;
use crate::config::ModelConfig;
use crate::policy::WordTokenizer;

fn tiny_policy() -> Policy {
    let cfg = ModelConfig {
        d_model: 8,
        layers: 1,
        heads: 2,
        d_ff: 8,
        max_context: 16,
        ..ModelConfig::default()
    };
    Policy::new(&cfg, WordTokenizer::build(["move up down"]), 0).unwrap()
}

fn save_step(run: &Path, policy: &Policy, step: u64, keep: usize) -> PathBuf {
    let opt = AdamW::new(policy.parameters(), 0.9, 0.999, 1e-8, 0.0);
    let st = TrainerState {
        step,
        ..Default::default()
    };
    save(
        run,
        step,
        &[&parts::PolicyPart(policy), &parts::OptimizerPart(&opt), &st],
        keep,
    )
    .unwrap()
}

/// A part a later component (a critic) could add: its own sub-folder.
struct Critic(Vec<u8>);

impl Part for Critic {
    fn name(&self) -> &'static str {
        "critic"
    }
    fn is_finite(&self) -> bool {
        true
    }
    fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir.join("critic"))?;
        std::fs::write(dir.join("critic/value.bin"), &self.0)?;
        Ok(())
    }
}

#[test]
fn a_saved_checkpoint_verifies_and_loads() {
    let run = tempfile::tempdir().unwrap();
    let p = tiny_policy();
    let dir = save_step(run.path(), &p, 3, 2);
    let m = manifest::verify(&dir).unwrap();
    assert_eq!(m.step, 3);
    assert_eq!(m.parts, ["policy", "optimizer", "trainer_state"]);
    assert!(m.files.iter().any(|f| f.path == "model.safetensors"));
    let s = scan(run.path()).unwrap();
    assert_eq!(s.intact, Some((dir.clone(), 3)));
    let (q, opt, st) = load(&dir, &crate::config::Config::default()).unwrap();
    assert_eq!(st.step, 3);
    assert_eq!(opt.m.len(), q.parameters().len());
}

#[test]
fn a_damaged_latest_checkpoint_falls_back_to_the_previous_one() {
    let run = tempfile::tempdir().unwrap();
    let p = tiny_policy();
    let first = save_step(run.path(), &p, 1, 3);
    let second = save_step(run.path(), &p, 2, 3);
    // Truncate the newest weights.
    let w = second.join("model.safetensors");
    let len = std::fs::metadata(&w).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&w)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let s = scan(run.path()).unwrap();
    assert_eq!(s.intact, Some((first.clone(), 1)));
    assert_eq!(s.damaged.len(), 1);
    assert!(
        s.warnings()[0].contains("model.safetensors"),
        "{:?}",
        s.warnings()
    );
    // A checkpoint without its manifest (a legacy or hand-made folder) is not trusted.
    std::fs::remove_file(first.join(manifest::MANIFEST)).unwrap();
    let s = scan(run.path()).unwrap();
    assert!(s.intact.is_none() && s.damaged.len() == 2, "{s:?}");
    // Quarantine keeps the files.
    let q = quarantine(&second).unwrap();
    assert!(q.join("config.json").exists() && !second.exists());
    assert!(list(run.path()).unwrap() == vec![first]);
}

#[test]
fn non_finite_weights_are_never_saved() {
    let run = tempfile::tempdir().unwrap();
    let p = tiny_policy();
    tch::no_grad(|| {
        let _ = p.parameters()[0].fill_(f64::NAN);
    });
    let opt = AdamW::new(p.parameters(), 0.9, 0.999, 1e-8, 0.0);
    let st = TrainerState::default();
    let e = save(
        run.path(),
        1,
        &[&parts::PolicyPart(&p), &parts::OptimizerPart(&opt), &st],
        2,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("non-finite") && e.contains("policy"), "{e}");
    assert!(list(run.path()).unwrap().is_empty());
    assert!(check_finite(&p, run.path()).is_err());
}

#[test]
fn pruning_keeps_the_newest_and_resaving_an_intact_step_changes_nothing() {
    let run = tempfile::tempdir().unwrap();
    let p = tiny_policy();
    for s in 0..4 {
        save_step(run.path(), &p, s, 2);
    }
    let names: Vec<u64> = list(run.path())
        .unwrap()
        .iter()
        .filter_map(|d| step_of(d))
        .collect();
    assert_eq!(names, [2, 3]);
    let before = std::fs::read(dir_of(run.path(), 3).join(manifest::MANIFEST)).unwrap();
    save_step(run.path(), &p, 3, 1);
    let after = std::fs::read(dir_of(run.path(), 3).join(manifest::MANIFEST)).unwrap();
    assert_eq!(before, after);
    assert_eq!(list(run.path()).unwrap().len(), 1);
    // Nothing temporary is left behind.
    let left: Vec<_> = std::fs::read_dir(run.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn extra_parts_are_covered_by_the_manifest() {
    let run = tempfile::tempdir().unwrap();
    let p = tiny_policy();
    let critic = Critic(vec![7; 100]);
    let st = TrainerState::default();
    let dir = save(run.path(), 0, &[&parts::PolicyPart(&p), &critic, &st], 1).unwrap();
    let m = manifest::verify(&dir).unwrap();
    assert!(m.parts.contains(&"critic".to_string()));
    std::fs::write(dir.join("critic/value.bin"), [8u8; 100]).unwrap();
    let why = manifest::verify(&dir).unwrap_err();
    assert!(
        why.contains("critic/value.bin") && why.contains("checksum"),
        "{why}"
    );
}

#[test]
fn temporaries_of_a_killed_writer_are_cleaned() {
    let run = tempfile::tempdir().unwrap();
    let root = run.path().join("checkpoints");
    std::fs::create_dir_all(root.join(".tmp-step-000004-123")).unwrap();
    std::fs::create_dir_all(root.join(".trash-step-000001-123")).unwrap();
    std::fs::write(root.join(".tmp-step-000004-123/model.safetensors"), b"x").unwrap();
    std::fs::create_dir_all(root.join("step-000003")).unwrap();
    assert_eq!(clean_temporaries(run.path()).unwrap(), 2);
    assert_eq!(list(run.path()).unwrap().len(), 1);
    let _ = Tensor::zeros([1], (tch::Kind::Float, tch::Device::Cpu));
}

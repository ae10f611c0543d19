use super::*;

#[test]
fn built_in_default_parses() {
    let c = load(None, &[]).unwrap();
    assert_eq!(c.env.name, "lmrl/maze-fo");
}

/// Every file under `configs/` loads and passes validation, so a shipped job never fails
/// on its own keys (each names the environment it says it runs). A relative `model.path`
/// is read from the repository root, where the README's commands run (`configs/smollm2.toml`
/// names the set-up script's `.models/` GGUF). The environments the binary adds
/// (`openenv`, TextWorld, ScienceWorld) are registered first, as `turnwise` does.
/// `configs/openenv.toml` is left out: loading it connects to the server it names, which
/// its header says to start first (the OpenEnv client tests run one).
#[test]
fn every_shipped_config_parses() {
    turnwise_openenv::register();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(root.join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") || path.ends_with("openenv.toml") {
            continue;
        }
        let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        let model_path = table
            .get("model")
            .and_then(|m| m.get("path"))
            .and_then(|p| p.as_str())
            .filter(|p| !p.is_empty() && std::path::Path::new(p).is_relative());
        let sets: Vec<String> = model_path
            .map(|p| format!("model.path={:?}", root.join(p).display().to_string()))
            .into_iter()
            .collect();
        let c = load(Some(&path), &sets).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        seen.push((stem, c.env.name));
    }
    seen.sort();
    let env_of = |stem: &str| {
        seen.iter()
            .find(|(s, _)| s == stem)
            .map(|(_, e)| e.as_str())
    };
    assert_eq!(env_of("maze"), Some("lmrl/maze-fo"));
    assert_eq!(env_of("wordle"), Some("lmrl/wordle"));
    assert_eq!(env_of("frozenlake"), Some("ragen/frozenlake"));
    assert_eq!(env_of("sokoban"), Some("ragen/sokoban"));
    assert_eq!(env_of("scienceworld"), Some("scienceworld"));
}

#[test]
fn unknown_key_is_rejected_with_suggestion_and_path() {
    let e = parse("[loss]\nclip_hgh = 0.3\n", "x.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.toml") && e.contains("loss") && e.contains("did you mean `clip_high`"),
        "{e}"
    );
    let e = parse("[optimm]\n", "x.toml", &[]).unwrap_err().to_string();
    assert!(e.contains("did you mean `optim`"), "{e}");
}

#[test]
fn wrong_type_names_the_key_path() {
    let e = parse("[optim]\nlr = \"fast\"\n", "x.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("optim.lr"), "{e}");
}

#[test]
fn set_overrides_dotted_paths_and_types() {
    let c = parse(
        "",
        "x.toml",
        &[
            "optim.lr=0.5".into(),
            "loss.agg=seq-mean-token-mean".into(),
            "credit.method=dr_grpo".into(),
            "loss.epo.max_steps=7".into(),
        ],
    )
    .unwrap();
    assert_eq!(c.optim.lr, 0.5);
    assert_eq!(c.loss.agg, crate::loss::AggMode::SeqMeanTokenMean);
    assert_eq!(c.credit.method, "dr_grpo");
    assert_eq!(c.loss.epo.unwrap().max_steps, 7);
    let e = parse("", "x.toml", &["optim.lrr=1".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `lr`"), "{e}");
}

#[test]
fn credit_method_and_params_are_checked_against_the_registry() {
    let e = parse("[credit]\nmethod = \"grpoo\"\n", "x.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("credit.method"), "{e}");
    let e = parse(
        "[credit]\nmethod = \"grpo\"\n[credit.params]\nepss = 1.0\n",
        "x.toml",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("credit.params"), "{e}");
}

#[test]
fn resume_applies_mutable_keys_and_refuses_immutable_ones_by_name() {
    let old = load(None, &[]).unwrap();
    let new = load(
        None,
        &[
            "run.steps=500".into(),
            "eval.episodes=10".into(),
            "run.threads=2".into(),
        ],
    )
    .unwrap();
    let ch = resume::diff(&old, &new).unwrap();
    let keys: Vec<&str> = ch.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["eval.episodes", "run.steps", "run.threads"]);
    assert_eq!(
        ch[1].describe(),
        format!("run.steps: {} → 500", old.run.steps)
    );
    let bad = load(
        None,
        &[
            "model.d_model=32".into(),
            "env.name=lmrl/maze-po".into(),
            "loss.kl=k3".into(),
            "loss.kl_coef=0.1".into(),
            "run.steps=7".into(),
        ],
    )
    .unwrap();
    let e = resume::diff(&old, &bad).unwrap_err();
    for k in ["`model.d_model`", "`env.name`", "`loss.kl`", "64 → 32"] {
        assert!(e.contains(k), "{e}");
    }
    assert!(!e.contains("run.steps") && !e.contains("kl_coef"), "{e}");
    assert_eq!(
        resume::on_resume("env.history_k"),
        resume::on_resume("env.history")
    );
    assert_eq!(
        resume::on_resume("model.max_context"),
        resume::OnResume::Mutable
    );
    assert!(matches!(
        resume::on_resume("brand.new_key"),
        resume::OnResume::Immutable(_)
    ));
}

//! Bad configs: each is one stderr line naming the file (or flag), the key and what was
//! expected; exit code 2; no panic; no run directory is created.

use crate::common::{one_line_error, trainer, write};

/// Runs `trainer fit --config <file with text> EXTRA...` and returns the error line.
fn fit_with(text: &str, extra: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "bad.toml", text);
    let out_dir = dir.path().join("runs").display().to_string();
    let mut args = vec!["fit", "--config", &cfg, "--output", &out_dir];
    args.extend_from_slice(extra);
    let line = one_line_error(&trainer(&args));
    assert!(
        !dir.path().join("runs").exists(),
        "a failed config must not create run directories"
    );
    (line, cfg)
}

#[test]
fn unknown_section_suggests_the_near_miss() {
    let (e, cfg) = fit_with("[trian]\nepochs = 1\n", &[]);
    assert!(
        e.contains(&cfg) && e.contains("key `trian`") && e.contains("did you mean `train`?"),
        "{e}"
    );
}

#[test]
fn typoed_key_suggests_the_near_miss() {
    let (e, _) = fit_with("[train]\nlrr = 0.1\n", &[]);
    assert!(
        e.contains("key `train.lrr`") && e.contains("did you mean `lr`?"),
        "{e}"
    );
}

#[test]
fn unknown_key_without_near_miss_lists_the_expected_keys() {
    let (e, _) = fit_with("[train]\nzzzzzz = 1\n", &[]);
    assert!(
        e.contains("key `train.zzzzzz`") && !e.contains("did you mean"),
        "{e}"
    );
    assert!(e.contains("epochs") && e.contains("batch_size"), "{e}");
}

#[test]
fn nested_unknown_key_has_its_full_path() {
    let (e, _) = fit_with("[model.mlp]\nhiden = [32]\n", &[]);
    assert!(
        e.contains("key `model.mlp.hiden`") && e.contains("did you mean `hidden`?"),
        "{e}"
    );
}

#[test]
fn string_for_an_integer_names_key_and_type() {
    let (e, _) = fit_with("[train]\nepochs = \"ten\"\n", &[]);
    assert!(
        e.contains("key `train.epochs`") && e.contains("invalid type: string"),
        "{e}"
    );
}

#[test]
fn float_for_an_integer_is_a_type_error() {
    let (e, _) = fit_with("[train]\nbatch_size = 1.5\n", &[]);
    assert!(
        e.contains("key `train.batch_size`") && e.contains("invalid type"),
        "{e}"
    );
}

#[test]
fn zero_batch_size_is_out_of_range() {
    let (e, _) = fit_with("[train]\nbatch_size = 0\n", &[]);
    assert!(
        e.contains("key `train.batch_size`") && e.contains(">= 1"),
        "{e}"
    );
}

#[test]
fn negative_learning_rate_is_out_of_range() {
    let (e, _) = fit_with("[train]\nlr = -0.1\n", &[]);
    assert!(
        e.contains("key `train.lr`") && e.contains("> 0") && e.contains("-0.1"),
        "{e}"
    );
}

#[test]
fn validation_fraction_must_be_below_one() {
    let (e, _) = fit_with("[data]\nvalidation_fraction = 1.5\n", &[]);
    assert!(
        e.contains("key `data.validation_fraction`") && e.contains("[0, 1)"),
        "{e}"
    );
}

#[test]
fn dropout_of_one_is_rejected() {
    let (e, _) = fit_with("[model.mlp]\ndropout = 1.0\n", &[]);
    assert!(
        e.contains("key `model.mlp.dropout`") && e.contains("probability"),
        "{e}"
    );
}

#[test]
fn empty_hidden_layer_list_is_rejected() {
    let (e, _) = fit_with("[model.mlp]\nhidden = []\n", &[]);
    assert!(
        e.contains("key `model.mlp.hidden`") && e.contains("non-empty"),
        "{e}"
    );
}

#[test]
fn misspelled_optimizer_suggests_a_value() {
    let (e, _) = fit_with("[train]\noptimizer = \"adm\"\n", &[]);
    assert!(
        e.contains("key `train.optimizer`")
            && e.contains("unknown value `adm`")
            && e.contains("did you mean `adam`?"),
        "{e}"
    );
}

#[test]
fn unknown_model_kind_lists_the_kinds() {
    let (e, _) = fit_with("[model]\nkind = \"transformer\"\n", &[]);
    assert!(
        e.contains("key `model.kind`") && e.contains("mlp, cnn"),
        "{e}"
    );
}

#[test]
fn run_name_must_be_a_directory_name() {
    let (e, _) = fit_with("[run]\nname = \"a/b\"\n", &[]);
    assert!(
        e.contains("key `run.name`") && e.contains("directory name"),
        "{e}"
    );
}

#[test]
fn invalid_toml_reports_line_and_column() {
    let (e, cfg) = fit_with("[train]\nepochs = 3\nlr = = 0.1\n", &[]);
    assert!(
        e.contains(&cfg) && e.contains("invalid TOML at line 3"),
        "{e}"
    );
}

#[test]
fn non_utf8_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "latin1.toml", b"[run]\nname = \"caf\xe9\"\n");
    let e = one_line_error(&trainer(&["fit", "--config", &cfg]));
    assert!(e.contains(&cfg) && e.contains("not UTF-8"), "{e}");
}

#[test]
fn missing_config_file_is_named() {
    let e = one_line_error(&trainer(&[
        "fit",
        "--config",
        "configs/does-not-exist.toml",
    ]));
    assert!(
        e.contains("configs/does-not-exist.toml") && e.contains("No such file"),
        "{e}"
    );
}

#[test]
fn set_without_equals_is_rejected() {
    let e = one_line_error(&trainer(&["fit", "--set", "train.lr"]));
    assert!(e.contains("train.lr") && e.contains("KEY=VALUE"), "{e}");
}

#[test]
fn set_with_wrong_type_names_the_flag() {
    let (e, _) = fit_with("", &["--set", "train.epochs=abc"]);
    assert!(
        e.contains("--set train.epochs=abc") && e.contains("key `train.epochs`"),
        "{e}"
    );
}

#[test]
fn set_with_typoed_key_suggests() {
    let (e, _) = fit_with("", &["--set", "train.batchsize=3"]);
    assert!(
        e.contains("--set train.batchsize=3") && e.contains("did you mean `batch_size`?"),
        "{e}"
    );
}

#[test]
fn set_below_a_value_is_rejected() {
    let (e, _) = fit_with("[train]\nlr = 0.1\n", &["--set", "train.lr.x=1"]);
    assert!(e.contains("`train.lr` is a value, not a table"), "{e}");
}

#[test]
fn set_out_of_range_is_validated_like_the_file() {
    let (e, _) = fit_with("[train]\nlr = 0.1\n", &["--set", "train.lr=0"]);
    assert!(e.contains("--set train.lr=0") && e.contains("> 0"), "{e}");
}

#[test]
fn run_name_flag_is_validated() {
    let (e, _) = fit_with("", &["--run-name", "../escape"]);
    assert!(
        e.contains("--run-name ../escape") && e.contains("key `run.name`"),
        "{e}"
    );
}

#[test]
fn unknown_backend_flag_is_one_line() {
    let e = one_line_error(&trainer(&["fit", "--backend", "tpu"]));
    assert!(e.contains("tpu") && e.contains("cuda"), "{e}");
}

#[test]
fn task_feature_and_accumulation_mistakes_name_the_key() {
    let csv = "[data]\nformat = \"csv\"\nfile = \"t.csv\"\nlabel = \"y\"\n";
    for (text, key, expected) in [
        (
            "[data]\ntask = \"regression\"\n".to_string(),
            "data.task",
            "regression reads a csv or parquet table",
        ),
        (
            // A regression's best checkpoint defaults to valid_loss; accuracy, asked for, is refused.
            format!("{csv}task = \"regression\"\n[checkpoint]\nbest_metric = \"valid_accuracy\"\n"),
            "checkpoint.best_metric",
            "\"valid_loss\"",
        ),
        (
            format!("{csv}features = [\"a\", \"y\"]\n"),
            "data.features",
            "the label column `y`",
        ),
        (
            format!("{csv}features = [\"a\", \"a\"]\n"),
            "data.features",
            "`a` twice",
        ),
        (
            "[train]\ngrad_accumulation_steps = 0\n".to_string(),
            "train.grad_accumulation_steps",
            "expected an integer >= 1",
        ),
    ] {
        let (e, _) = fit_with(&text, &[]);
        assert!(e.contains(key) && e.contains(expected), "{text}: {e}");
    }
}

//! `data.format = "tokens"`: token shards in nanoGPT's layout (`train.bin`, `val.bin`,
//! optional `meta.json`) train the GPT; shards written by numpy read back as the same ids;
//! bad shards get one-line errors naming the file.

use crate::common::{one_line_error, repo, stderr, stdout, summary, trainer};
use std::path::Path;
use std::process::Output;

/// Tiny Shakespeare as character ids (its distinct characters, sorted), the first 90% in
/// `train.bin` and the rest in `val.bin` (uint16), `meta.json` with the vocabulary size.
fn shakespeare_shards(dir: &Path) -> usize {
    let text = std::fs::read_to_string(repo().join("datasets/tinyshakespeare/input.txt")).unwrap();
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort();
    chars.dedup();
    let ids: Vec<u16> = text
        .chars()
        .map(|c| chars.binary_search(&c).unwrap() as u16)
        .collect();
    let cut = ids.len() * 9 / 10;
    std::fs::create_dir_all(dir).unwrap();
    for (name, part) in [("train.bin", &ids[..cut]), ("val.bin", &ids[cut..])] {
        let bytes: Vec<u8> = part.iter().flat_map(|i| i.to_le_bytes()).collect();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let meta = format!("{{\"vocab_size\": {}}}", chars.len());
    std::fs::write(dir.join("meta.json"), meta).unwrap();
    chars.len()
}

/// `trainer fit` of a 1-layer GPT on the shards in `dir` (one epoch of windows every 512
/// tokens), as run `name` under `dir/../runs`.
fn fit_tokens(dir: &Path, name: &str) -> Output {
    let data_dir = format!("data.dir={}", dir.display());
    let out = dir.parent().unwrap().join("runs").display().to_string();
    trainer(&[
        "fit",
        "--config",
        "configs/shakespeare-gpt-cpu.toml",
        "--output",
        &out,
        "--run-name",
        name,
        "--set",
        "data.format=\"tokens\"",
        "--set",
        &data_dir,
        "--set",
        "model.gpt.layers=1",
        "--set",
        "model.gpt.heads=2",
        "--set",
        "model.gpt.embedding=32",
        "--set",
        "model.gpt.block_size=32",
        "--set",
        "data.stride=512",
        "--set",
        "train.epochs=1",
        "--set",
        "train.batch_size=16",
    ])
}

#[test]
fn the_gpt_trains_on_token_shards_and_eval_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shards");
    let vocab = shakespeare_shards(&dir);
    let o = fit_tokens(&dir, "tokens");
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("runs/tokens");
    let s = summary(&run);
    let loss = s["test_loss"].as_f64().unwrap();
    // An untrained model scores ln(vocab) nats a token.
    assert!(
        loss < (vocab as f64).ln() - 1.0,
        "test loss {loss} after one epoch: {s}"
    );
    assert_eq!(s["datasets"][0]["format"], "tokens", "{s}");

    let ck = crate::tasks::newest_checkpoint(&run);
    let vocab_json = std::fs::read_to_string(ck.join("vocab.json")).unwrap();
    assert!(
        vocab_json.contains(&format!("\"token_ids\": {vocab}")),
        "{vocab_json}"
    );
    let m = crate::tasks::eval_whole_file(ck.to_str().unwrap(), &dir, &tmp.path().join("m.json"));
    assert!(
        (m["loss"].as_f64().unwrap() - loss).abs() < 1e-4,
        "{m} vs {loss}"
    );

    // No tokenizer comes with shards: sampling text says so.
    let e = one_line_error(&trainer(&[
        "sample",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--prompt",
        "ROMEO:",
    ]));
    assert!(e.contains("token shards"), "{e}");
}

#[test]
fn shards_written_by_numpy_read_back_as_the_same_ids() {
    let tmp = tempfile::tempdir().unwrap();
    for (dtype, top) in [("uint16", 60_000u32), ("uint32", 100_000)] {
        let dir = tmp.path().join(dtype);
        std::fs::create_dir_all(&dir).unwrap();
        let script = format!(
            "import numpy as np, json, sys\n\
             d = sys.argv[1]\n\
             rng = np.random.default_rng(3)\n\
             for name, n in (('train.bin', 5000), ('val.bin', 700)):\n\
             \x20   ids = rng.integers(0, {top}, n).astype(np.{dtype})\n\
             \x20   ids.tofile(f'{{d}}/{{name}}')\n\
             \x20   print(name, len(ids), int(ids.max()))\n\
             json.dump({{'vocab_size': {top}, 'dtype': '{dtype}'}}, open(f'{{d}}/meta.json', 'w'))\n"
        );
        let o = std::process::Command::new(crate::export_torch::python())
            .args(["-c", &script, dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let written = String::from_utf8_lossy(&o.stdout).into_owned();
        let o = trainer(&["data", "inspect", dir.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let report = stdout(&o);
        assert!(report.contains(dtype), "{report}");
        for line in written.lines() {
            let [name, n, max]: [&str; 3] = line
                .split_whitespace()
                .collect::<Vec<_>>()
                .try_into()
                .unwrap();
            let want = format!("{name}  {n} tokens, largest id {max}");
            assert!(
                report
                    .lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")
                        == want.split_whitespace().collect::<Vec<_>>().join(" ")),
                "{want:?} in {report}"
            );
        }
    }
}

#[test]
fn bad_shards_are_one_line_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shards");
    shakespeare_shards(&dir);
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();

    let meta = std::fs::read(dir.join("meta.json")).unwrap();
    write("meta.json", b"{\"vocab_size\": 10}");
    let e = one_line_error(&fit_tokens(&dir, "a"));
    assert!(
        e.contains("train.bin: holds token id") && e.contains("has 10 ids"),
        "{e}"
    );
    write("meta.json", b"{vocab");
    let e = one_line_error(&fit_tokens(&dir, "b"));
    assert!(e.contains("meta.json"), "{e}");
    write("meta.json", &meta);

    let val = std::fs::read(dir.join("val.bin")).unwrap();
    write("val.bin", &val[..val.len() - 1]);
    let e = one_line_error(&fit_tokens(&dir, "c"));
    assert!(
        e.contains("val.bin") && e.contains("not a whole number"),
        "{e}"
    );
    std::fs::remove_file(dir.join("val.bin")).unwrap();
    let e = one_line_error(&fit_tokens(&dir, "d"));
    assert!(e.contains("val.bin: not found"), "{e}");
    assert!(
        !tmp.path().join("runs").join("d").exists(),
        "nothing written"
    );
}

/// The resume tests' config of a 1-layer GPT with dropout on the shards in `dir` (a training
/// window every 2,048 tokens, batches of 16).
pub(crate) fn resume_config(dir: std::path::PathBuf) -> trainer_core::config::Config {
    use trainer_core::config::{DataFormat, ModelKind};
    let mut cfg = crate::resume::config();
    cfg.data.format = DataFormat::Tokens;
    cfg.data.dir = dir;
    cfg.data.stride = 2048;
    cfg.data.eval_batch_size = 256;
    cfg.model.kind = ModelKind::Gpt;
    (cfg.model.gpt.layers, cfg.model.gpt.heads) = (1, 2);
    (cfg.model.gpt.embedding, cfg.model.gpt.block_size) = (32, 32);
    cfg.model.gpt.dropout = 0.1; // dropout masks: the RNG must resume too
    cfg.train.batch_size = 16;
    cfg
}

#[test]
fn a_run_on_token_shards_stopped_mid_epoch_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shards");
    shakespeare_shards(&dir);
    let _serial = crate::common::train_lock();
    let cfg = resume_config(dir);
    let data = trainer_core::task::TaskData::open(&cfg, None).unwrap();
    let trainer_core::task::TaskData::Text(splits, ..) = &data else {
        panic!("token shards are a language model's data")
    };
    // (1,003,854 training tokens - 32) / 2048, rounded up.
    assert_eq!(
        trainer_core::data::BatchSource::len(splits.train.as_ref()),
        491
    );
    let losses = crate::resume::assert_resumes_exactly(&cfg, &data, &[20]);
    assert_eq!(
        losses.len(),
        2 * 491_usize.div_ceil(16),
        "one loss per step, 2 epochs"
    );
}

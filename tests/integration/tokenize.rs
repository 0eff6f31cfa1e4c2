//! `trainer data tokenize`: a byte-level BPE trained on Tiny Shakespeare round-trips it
//! exactly; its shards are nanoGPT's format (numpy reads them back); a GPT trained on them
//! beats the untrained model in bits per byte, resumes exactly, and `sample` speaks through
//! the tokenizer saved in its checkpoint; bad tokenizer input is a one-line error.

use crate::common::{one_line_error, repo, stderr, stdout, summary, trainer};
use std::path::{Path, PathBuf};
use std::process::Output;
use trainer_text::Tokenizer;

fn shakespeare() -> PathBuf {
    repo().join("datasets/tinyshakespeare/input.txt")
}

/// `trainer data tokenize` of Tiny Shakespeare into `out`, the tokenizer from `source` (e.g.
/// `--vocab-size N`).
fn tokenize_with(out: &Path, source: &[&str]) -> Output {
    let (input, output) = (shakespeare(), out.display().to_string());
    let mut args = vec![
        "data",
        "tokenize",
        "--input",
        input.to_str().unwrap(),
        "--output",
        &output,
    ];
    args.extend_from_slice(source);
    trainer(&args)
}

/// `trainer data tokenize` of Tiny Shakespeare into `out` with a trained BPE of `vocab` ids,
/// 10% validation and 5% test text.
fn tokenize(out: &Path, vocab: usize) -> String {
    let vocab = vocab.to_string();
    let o = tokenize_with(out, &["--vocab-size", &vocab, "--test-fraction", "0.05"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// The ids of a shard as numpy reads it (`np.fromfile` with meta.json's dtype).
fn numpy_ids(shard: &Path) -> Vec<u32> {
    let script = "import numpy as np, json, sys, os\n\
                  p = sys.argv[1]\n\
                  meta = json.load(open(os.path.join(os.path.dirname(p), 'meta.json')))\n\
                  ids = np.fromfile(p, dtype=np.dtype(meta['dtype']))\n\
                  sys.stdout.write(' '.join(map(str, ids.tolist())))\n";
    let o = std::process::Command::new(crate::export_torch::python())
        .args(["-c", script, shard.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect()
}

#[test]
fn a_bpe_tokenizer_round_trips_shakespeare_and_numpy_reads_its_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bpe");
    let report = tokenize(&out, 512);
    assert!(report.contains("512 ids (uint16)"), "{report}");
    assert!(report.contains("tokens/s"), "{report}");
    let text = std::fs::read_to_string(shakespeare()).unwrap();
    let tok = Tokenizer::load(&out.join("tokenizer.json")).unwrap();
    assert_eq!(tok.vocab_size(), 512);
    let ids = tok.encode(&text).unwrap();
    assert!(
        ids.len() * 3 < text.len() * 2,
        "{} tokens for {} bytes: merges shorten it",
        ids.len(),
        text.len()
    );
    assert_eq!(tok.decode(&ids).unwrap(), text, "decode(encode(text))");

    // numpy reads our shards; decoded in order they are the text again, split at line ends.
    let parts: Vec<String> = ["train.bin", "val.bin", "test.bin"]
        .iter()
        .map(|n| tok.decode(&numpy_ids(&out.join(n))).unwrap())
        .collect();
    assert_eq!(parts.concat(), text);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta.json")).unwrap()).unwrap();
    for (part, name) in parts.iter().zip(["train", "val", "test"]) {
        assert_eq!(meta["bytes"][name], part.len() as u64, "{meta}");
    }
    let val_share = parts[1].len() as f64 / text.len() as f64;
    assert!((val_share - 0.10).abs() < 0.005, "{val_share}");

    // The shards' own description, and nothing overwritten by a second run.
    let o = trainer(&["data", "inspect", out.to_str().unwrap()]);
    assert!(stdout(&o).contains("largest id"), "{}", stdout(&o));
    let before = std::fs::read(out.join("train.bin")).unwrap();
    let tokenizer = out.join("tokenizer.json");
    let o = tokenize_with(&out, &["--tokenizer", tokenizer.to_str().unwrap()]);
    let e = one_line_error(&o);
    assert!(e.contains("train.bin: already exists"), "{e}");
    assert_eq!(std::fs::read(out.join("train.bin")).unwrap(), before);
}

/// `trainer fit` of a 1-layer GPT on the shards in `dir` for `epochs` epochs, as run `name`
/// under `runs`, with `extra` arguments.
fn fit_bpe(dir: &Path, runs: &Path, name: &str, epochs: usize, extra: &[&str]) -> Output {
    let (dir, runs) = (
        format!("data.dir={}", dir.display()),
        runs.display().to_string(),
    );
    let epochs = format!("train.epochs={epochs}");
    let mut args = vec![
        "fit",
        "--config",
        "configs/shakespeare-bpe.toml",
        "--output",
        &runs,
        "--run-name",
        name,
        "--set",
        &dir,
        "--set",
        "model.gpt.layers=1",
        "--set",
        "model.gpt.embedding=64",
        "--set",
        "data.stride=128",
        "--set",
        &epochs,
    ];
    args.extend_from_slice(extra);
    trainer(&args)
}

#[test]
fn a_gpt_on_bpe_shards_beats_the_untrained_model_in_bits_per_byte_and_samples_text() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bpe");
    tokenize(&dir, 512);
    let runs = tmp.path().join("runs");
    let o = fit_bpe(&dir, &runs, "bpe", 1, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&runs.join("bpe"));
    let valid = &s["valid"];
    let (loss, bpb) = (
        valid["loss"].as_f64().unwrap(),
        valid["bits_per_byte"].as_f64().unwrap(),
    );
    // Bits per byte is the loss per token in bits over the text's bytes per token.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let val_tokens = std::fs::metadata(dir.join("val.bin")).unwrap().len() as f64 / 2.0;
    let bytes_per_token = meta["bytes"]["val"].as_f64().unwrap() / val_tokens;
    let expected = loss / std::f64::consts::LN_2 / bytes_per_token;
    assert!((bpb - expected).abs() < 1e-9, "{bpb} vs {expected}");
    // An untrained model spreads its bets evenly: log2(512) bits a token.
    let untrained = 9.0 / bytes_per_token;
    assert!(
        bpb < untrained - 0.75,
        "validation {bpb:.3} bits/byte after one epoch, untrained {untrained:.3}: {s}"
    );
    assert!(s["test"]["bits_per_byte"].as_f64().is_some(), "{s}");

    // The checkpoint carries the tokenizer: sample encodes the prompt and decodes through it.
    let ck = crate::tasks::newest_checkpoint(&runs.join("bpe"));
    assert_eq!(
        std::fs::read(ck.join("tokenizer.json")).unwrap(),
        std::fs::read(dir.join("tokenizer.json")).unwrap()
    );
    let o = trainer(&[
        "sample",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--prompt",
        "ROMEO:",
        "--tokens",
        "40",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("ROMEO:") && text.trim_end().len() > "ROMEO:".len() + 20,
        "{text:?}"
    );

    // Shards made by another tokenizer are refused on resume.
    let other = tmp.path().join("other");
    tokenize(&other, 300);
    std::fs::copy(other.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    let o = fit_bpe(&dir, &runs, "bpe", 2, &["--resume", "auto"]);
    let e = one_line_error(&o);
    assert!(
        e.contains("tokenizer.json differs from the checkpoint's"),
        "{e}"
    );
}

#[test]
fn a_gpt_on_bpe_shards_stopped_mid_epoch_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bpe");
    tokenize(&dir, 400);
    let _serial = crate::common::train_lock();
    let cfg = crate::token_shards::resume_config(dir);
    let data = trainer_core::task::TaskData::open(&cfg, None).unwrap();
    let trainer_core::task::TaskData::Text(splits, vocab, assets) = &data else {
        panic!("token shards are a language model's data")
    };
    assert_eq!(vocab.size(), 400);
    assert!(assets.contains_key("tokenizer.json"));
    let windows = trainer_core::data::BatchSource::len(splits.train.as_ref());
    let losses = crate::resume::assert_resumes_exactly(&cfg, &data, &[5]);
    assert_eq!(losses.len(), 2 * windows.div_ceil(16), "2 epochs");
}

#[test]
fn bad_tokenizer_input_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], out: &str| {
        let out = tmp.path().join(out);
        (tokenize_with(&out, extra), out)
    };
    let bad = tmp.path().join("tokenizer.json");
    std::fs::write(&bad, "{\"version\": \"1.0\", \"model\": 42}").unwrap();
    let (o, out) = run(&["--tokenizer", bad.to_str().unwrap()], "a");
    let e = one_line_error(&o);
    assert!(e.contains("tokenizer.json: not a tokenizer.json"), "{e}");
    assert!(!out.exists(), "nothing written");

    let (o, _) = run(&["--vocab-size", "100"], "b");
    let e = one_line_error(&o);
    assert!(e.contains("--vocab-size: expected more than 256"), "{e}");

    let (o, _) = run(&[], "c");
    let e = one_line_error(&o);
    assert!(e.contains("expected --vocab-size N"), "{e}");

    let vocab = tmp.path().join("vocab.json");
    std::fs::write(&vocab, "[1, 2]").unwrap();
    let merges = tmp.path().join("merges.txt");
    std::fs::write(&merges, "#version: 0.2\n").unwrap();
    let (o, _) = run(
        &[
            "--vocab",
            vocab.to_str().unwrap(),
            "--merges",
            merges.to_str().unwrap(),
        ],
        "d",
    );
    let e = one_line_error(&o);
    assert!(e.contains("vocab.json") && e.contains("GPT-2"), "{e}");

    let binary = tmp.path().join("binary.txt");
    std::fs::write(&binary, b"ok\n\xff\xfe\n").unwrap();
    let out = tmp.path().join("e");
    let o = trainer(&[
        "data",
        "tokenize",
        "--input",
        binary.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--vocab-size",
        "300",
        "--valid-fraction",
        "0.2",
    ]);
    let e = one_line_error(&o);
    assert!(e.contains("binary.txt: byte 4: not valid UTF-8"), "{e}");
    assert!(!out.join("train.bin").exists(), "nothing written");
}

#[test]
fn gpt2_vocab_and_merges_files_tokenize_like_the_tokenizer_they_came_from() {
    let tmp = tempfile::tempdir().unwrap();
    let from_json = tmp.path().join("json");
    tokenize(&from_json, 300);
    // GPT-2's two files, written from the trained tokenizer's own model.
    let t: serde_json::Value =
        serde_json::from_slice(&std::fs::read(from_json.join("tokenizer.json")).unwrap()).unwrap();
    let vocab = tmp.path().join("vocab.json");
    std::fs::write(&vocab, t["model"]["vocab"].to_string()).unwrap();
    let merges: Vec<String> = t["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m.as_array() {
            Some(pair) => format!(
                "{} {}",
                pair[0].as_str().unwrap(),
                pair[1].as_str().unwrap()
            ),
            None => m.as_str().unwrap().to_string(),
        })
        .collect();
    let merges_file = tmp.path().join("merges.txt");
    std::fs::write(
        &merges_file,
        format!("#version: 0.2\n{}\n", merges.join("\n")),
    )
    .unwrap();
    let from_files = tmp.path().join("files");
    let o = tokenize_with(
        &from_files,
        &[
            "--vocab",
            vocab.to_str().unwrap(),
            "--merges",
            merges_file.to_str().unwrap(),
            "--test-fraction",
            "0.05",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for shard in ["train.bin", "val.bin", "test.bin"] {
        assert_eq!(
            std::fs::read(from_files.join(shard)).unwrap(),
            std::fs::read(from_json.join(shard)).unwrap(),
            "{shard}"
        );
    }
}

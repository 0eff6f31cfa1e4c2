//! Helpers shared by the integration tests: run the real binary, build small datasets.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A run directory's `summary.json`, parsed (panics naming the file if it is missing or bad).
pub fn summary(run: &Path) -> serde_json::Value {
    let path = run.join("summary.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The repository root (tests run the binary from here so relative paths in configs work).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `trainer ARGS` in the repo root, with no MLflow settings from the caller's environment.
pub fn trainer(args: &[&str]) -> Output {
    trainer_env(args, &[])
}

/// Runs `trainer ARGS` with extra environment variables (`MLFLOW_*` from outside are removed).
pub fn trainer_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    trainer_command(args, env)
        .output()
        .expect("the trainer binary runs")
}

/// `trainer ARGS` in the repo root with `env` set and the caller's `MLFLOW_*` variables removed.
pub fn trainer_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainer"));
    cmd.args(args)
        .current_dir(repo())
        .env_remove("RUST_BACKTRACE")
        // Decompressed datasets go to a cache inside the build tree, not the user's home.
        .env(
            "TRAINER_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("data-cache"),
        );
    for (k, _) in std::env::vars() {
        if k.starts_with("MLFLOW_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// `fit --output OUT --run-name NAME --backend cpu --set model.mlp.hidden=[32] EXTRA...`: a
/// small MLP on the bundled data.
pub fn small_fit_args(out: &Path, name: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["fit", "--output"].map(String::from).to_vec();
    args.push(out.display().to_string());
    args.extend(
        [
            "--run-name",
            name,
            "--backend",
            "cpu",
            "--set",
            "model.mlp.hidden=[32]",
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Runs `trainer ARGS` (owned strings).
pub fn trainer_owned(args: &[String]) -> Output {
    trainer(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a bad-input failure: exit code 2, exactly one non-empty stderr line starting with
/// `error:` (besides the `backend: ...` line, a diagnostic that goes to stderr before the work
/// starts), no panic or backtrace; returns that line.
pub fn one_line_error(o: &Output) -> String {
    let err = stderr(o);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("backend: "))
        .collect();
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2, stderr:\n{err}\nstdout:\n{}",
        stdout(o)
    );
    assert_eq!(lines.len(), 1, "expected one stderr line, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    lines[0].to_string()
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write test file");
    p.display().to_string()
}

/// IDX bytes: big-endian magic, dims, then the body.
pub fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(body);
    v
}

/// Writes a tiny valid IDX dataset (`n` train and `n` test 4x4 images) into `dir`.
pub fn tiny_dataset(dir: &Path, n: u32) {
    let pixels: Vec<u8> = (0..n * 16).map(|i| (i % 251) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    for prefix in ["train", "t10k"] {
        write(
            dir,
            &format!("{prefix}-images-idx3-ubyte"),
            idx(0x803, &[n, 4, 4], &pixels),
        );
        write(
            dir,
            &format!("{prefix}-labels-idx1-ubyte"),
            idx(0x801, &[n], &labels),
        );
    }
}

/// Burn's CPU backends keep one process-wide RNG: in-process training runs that compare exact
/// numbers must not overlap, so every in-process `fit` in this binary holds this lock.
pub static TRAIN_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes `TRAIN_LOCK`, even if a previous holder panicked.
pub fn train_lock() -> std::sync::MutexGuard<'static, ()> {
    TRAIN_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pixels of `rgb` in a PNG file (panics naming the file if it is missing or not an RGB PNG).
pub fn png_pixels_of(file: &Path, rgb: [u8; 3]) -> usize {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a frame size")];
    reader.next_frame(&mut buf).expect("a PNG frame");
    buf.chunks(3).filter(|p| *p == rgb).count()
}

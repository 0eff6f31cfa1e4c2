//! MLflow's own UI in a real browser (headless Chromium from Debian's packages, installed by
//! tests/setup.sh) over a tracked run and a tracked sweep: what a user sees. Each page is driven
//! over the DevTools protocol by `tests/python/browse.py`, which waits in real time until the
//! page shows what the test reads (a virtual-time budget could run out while the renderer was
//! still busy, leaving charts as spinners), then reads its DOM; a screenshot of each page is
//! kept in `target/tmp/mlflow-ui/` (see the README's "Looking at the UI test").

use crate::common::{repo, trainer_env, write};
use crate::mlflow_server::{Server, fit, free_port, mlflow_env, sync_state};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Chromium binary (`TRAINER_CHROMIUM`, else `chromium` on the PATH).
fn chromium() -> String {
    std::env::var("TRAINER_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// How long a page may take to show what the test waits for, in seconds.
const PAGE_TIMEOUT_S: &str = "180";

/// Loads `url` and returns its DOM once the JavaScript expression `ready` is true there (or
/// after `PAGE_TIMEOUT_S`, when the test's assertions then say what is missing); saves a
/// screenshot of it as `shots/NAME.png`.
fn page(url: &str, name: &str, shots: &Path, ready: &str) -> String {
    let shot = shots.join(format!("{name}.png"));
    let o = Command::new("python3")
        .arg(repo().join("tests/python/browse.py"))
        .arg(chromium())
        .arg(url)
        .arg(ready)
        .arg(&shot)
        .arg(PAGE_TIMEOUT_S)
        .output()
        .unwrap_or_else(|e| panic!("python3 tests/python/browse.py: {e}"));
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "browse.py {url} ({}; tests/setup.sh installs Debian's chromium): {}",
        chromium(),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(shot.is_file(), "screenshot of {url}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Plotly draws each chart as an `svg.main-svg`: ready once at least `n` charts are drawn.
fn charts(n: usize) -> String {
    format!("document.querySelectorAll('svg.main-svg').length >= {n}")
}

/// Ready once the page's visible text contains every one of `texts`.
fn shows(texts: &[&str]) -> String {
    texts
        .iter()
        .map(|t| format!("document.body.innerText.includes({t:?})"))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// The text a user reads: the DOM without scripts, styles and tags.
fn text(dom: &str) -> String {
    let mut out = String::with_capacity(dom.len() / 4);
    let mut rest = dom;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        out.push(' ');
        let tail = &rest[start..];
        let skip_to = ["script", "style"]
            .iter()
            .find(|t| tail[1..].starts_with(**t))
            .map(|t| format!("</{t}>"));
        rest = match skip_to {
            Some(end) => tail.find(&end).map_or("", |i| &tail[i + end.len()..]),
            None => tail.find('>').map_or("", |i| &tail[i + 1..]),
        };
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of each cell of the runs table's column `name`, top to bottom.
fn cells(dom: &str, name: &str) -> Vec<String> {
    let marker = format!("id=\"cell-attributes.`{name}`-");
    dom.match_indices(&marker)
        .filter_map(|(i, _)| {
            let after = &dom[i..];
            let open = after.find('>')? + 1;
            let mut end = (open + 1500).min(after.len());
            while !after.is_char_boundary(end) {
                end -= 1;
            }
            let cell = text(&after[open..end]);
            Some(cell.split_whitespace().next().unwrap_or("").to_string())
        })
        .collect()
}

fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mlflow-ui");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_mlflow_ui_shows_a_run_and_a_sweep_as_training_runs() {
    let server = Server::start(free_port());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let o = fit(&out, "ui-run", &server.uri, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let state = sync_state(&out.join("ui-run")).expect("the run's tracking.json");
    let (experiment, run_id) = (state.experiment_id.clone(), state.mlflow_run_id.clone());
    // The trainer prints the link that opens the run in MLflow's model-training view.
    let link = format!(
        "{}/#/experiments/{experiment}/runs/{run_id}?workflowType=machine_learning",
        server.uri
    );
    assert!(stdout.contains(&link), "{stdout}");

    let space = write(
        dir.path(),
        "ui-sweep.toml",
        "objective = \"valid_accuracy\"\nmode = \"max\"\n[space]\n\"train.lr\" = [1e-3, 3e-3]\n",
    );
    let env = mlflow_env(&server.uri);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out_s = out.display().to_string();
    let sweep = trainer_env(
        &[
            "sweep",
            "--output",
            &out_s,
            "--space",
            &space,
            "--backend",
            "cpu",
            "--set",
            "train.epochs=1",
        ],
        &env,
    );
    assert!(
        sweep.status.success(),
        "{}",
        String::from_utf8_lossy(&sweep.stderr)
    );

    let shots = shots_dir();
    let base = format!("{}/#/experiments/{experiment}", server.uri);
    let ml = "?workflowType=machine_learning";

    // The experiment: training runs, the sweep a parent row with its trials folded under it,
    // Dataset and Source filled.
    let runs = page(
        &format!("{base}{ml}"),
        "experiment-runs",
        &shots,
        &shows(&["ui-sweep", "ui-run", "4 matching runs", "mnist-10k ("]),
    );
    let t = text(&runs);
    for want in [
        "Runs", "Run Name", "Dataset", "Source", "ui-run", "ui-sweep",
    ] {
        assert!(t.contains(want), "{want:?} on the runs page: {t}");
    }
    assert!(
        t.contains("mnist-10k ("),
        "the Dataset column names the data: {t}"
    );
    assert!(
        t.contains("4 matching runs"),
        "the run, the sweep and 2 trials: {t}"
    );
    assert!(
        !t.contains("trial-000") && !t.contains("trial-001"),
        "trials are folded under the sweep, not top-level rows: {t}"
    );
    let sweep_cell = runs
        .find(">ui-sweep<")
        .map(|i| &runs[i.saturating_sub(2500)..i])
        .expect("the sweep's row");
    assert!(
        sweep_cell.contains("runnamecellrenderer.tsx_46"),
        "the sweep's row has the expand button of a parent run"
    );
    let sources = cells(&runs, "Source");
    assert!(
        sources.len() >= 2 && sources.iter().all(|s| s.starts_with("trainer")),
        "the Source column names the program on every row: {sources:?}"
    );

    // The run: its description, the loss chart and the system-metrics charts.
    let run_page = format!("{base}/runs/{run_id}");
    let t = text(&page(
        &format!("{run_page}{ml}"),
        "run-overview",
        &shots,
        &shows(&["Description", "mnist-10k"]),
    ));
    assert!(
        t.contains("Description") && t.contains("on flex") && t.contains("mnist-10k"),
        "{t}"
    );
    let metrics = page(
        &format!("{run_page}/model-metrics{ml}"),
        "run-model-metrics",
        &shots,
        &format!("{} && {}", charts(2), shows(&["epoch_train_loss"])),
    );
    assert!(
        text(&metrics).contains("epoch_train_loss"),
        "{}",
        text(&metrics)
    );
    assert!(
        metrics.matches("class=\"main-svg\"").count() >= 2,
        "charts are drawn"
    );
    let system = page(
        &format!("{run_page}/system-metrics{ml}"),
        "run-system-metrics",
        &shots,
        &format!("{} && {}", charts(2), shows(&["disk_usage_megabytes"])),
    );
    let t = text(&system);
    assert!(
        t.contains("System metrics (") && t.contains("disk_usage_megabytes"),
        "{t}"
    );
    assert!(
        system.matches("class=\"main-svg\"").count() >= 2,
        "charts are drawn"
    );
}

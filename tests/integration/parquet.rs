//! `data.format = "parquet"`: the bundled wine table written by pyarrow (one file of several
//! row groups, or a directory of part files) trains to exactly the CSV run's metrics, and
//! `eval`, `predict` and `data inspect` read it; bad Parquet input is a one-line error.

use crate::common::{one_line_error, repo, stderr, stdout, summary, trainer};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The MLflow venv's Python (MLflow depends on pyarrow).
fn pyarrow_python() -> PathBuf {
    let venv = std::env::var_os("TRAINER_MLFLOW_VENV").expect(
        "TRAINER_MLFLOW_VENV is not set: run the suite with tests/run-all.sh (it creates the venv)",
    );
    Path::new(&venv).join("bin/python")
}

/// Runs `script` with `sys.argv[1]` = the wine CSV and `sys.argv[2]` = `out`.
fn pyarrow(script: &str, out: &Path) {
    let prelude = "import sys, pyarrow as pa, pyarrow.csv as pacsv, pyarrow.parquet as pq\n\
                   t = pacsv.read_csv(sys.argv[1])\n\
                   out = sys.argv[2]\n";
    let wine = repo().join("datasets/tabular/wine.csv");
    let o = std::process::Command::new(pyarrow_python())
        .args([
            "-c",
            &format!("{prelude}{script}"),
            wine.to_str().unwrap(),
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `trainer fit --config CONFIG` on `file` read as `format`, as run `name` under `runs`.
fn fit_on(config: &str, format: &str, file: &Path, runs: &Path, name: &str) -> Output {
    trainer(&[
        "fit",
        "--config",
        config,
        "--output",
        runs.to_str().unwrap(),
        "--run-name",
        name,
        "--set",
        &format!("data.format=\"{format}\""),
        "--set",
        &format!("data.file={}", file.display()),
        "--set",
        "train.epochs=12",
    ])
}

/// [`fit_on`], which must succeed; the run's summary.
fn fit(config: &str, format: &str, file: &Path, runs: &Path, name: &str) -> serde_json::Value {
    let o = fit_on(config, format, file, runs, name);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    summary(&runs.join(name))
}

/// What two runs reached: the same numbers, bit for bit (same rows, same values, same seed).
fn metrics(s: &serde_json::Value) -> Vec<String> {
    ["valid", "test"]
        .iter()
        .map(|k| {
            let mut m = s[k].clone();
            m.as_object_mut().unwrap().remove("samples");
            m.to_string()
        })
        .chain([s["final_train_loss"].to_string()])
        .collect()
}

#[test]
fn a_parquet_table_trains_to_the_csv_runs_metrics_and_scores_like_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("wine.parquet");
    pyarrow("pq.write_table(t, out, row_group_size=50)", &file);
    let parts = tmp.path().join("wine-parts");
    pyarrow(
        "import os\n\
         os.makedirs(out)\n\
         for i, start in enumerate(range(0, t.num_rows, 70)):\n\
         \x20   pq.write_table(t.slice(start, 70), f'{out}/part-{i:05}.parquet', compression='zstd')\n\
         open(f'{out}/_SUCCESS', 'w').close()\n",
        &parts,
    );
    let csv = repo().join("datasets/tabular/wine.csv");
    let runs = tmp.path().join("runs");
    for config in ["configs/wine.toml", "configs/wine-alcohol.toml"] {
        let name = Path::new(config).file_stem().unwrap().to_str().unwrap();
        let from_csv = fit(config, "csv", &csv, &runs, &format!("{name}-csv"));
        let from_file = fit(config, "parquet", &file, &runs, &format!("{name}-pq"));
        let from_parts = fit(config, "parquet", &parts, &runs, &format!("{name}-parts"));
        assert_eq!(metrics(&from_file), metrics(&from_csv), "{config}");
        assert_eq!(metrics(&from_parts), metrics(&from_csv), "{config}");
        assert_eq!(from_file["datasets"][0]["format"], "parquet");
    }

    // eval and predict read Parquet and CSV alike, with the run's saved preprocessing.
    let ck = crate::tasks::newest_checkpoint(&runs.join("wine-pq"));
    let ck = ck.to_str().unwrap();
    let on_parquet = crate::tasks::eval_whole_file(ck, &file, &tmp.path().join("a.json"));
    let on_csv = crate::tasks::eval_whole_file(ck, &csv, &tmp.path().join("b.json"));
    assert_eq!(on_parquet["accuracy"], on_csv["accuracy"], "{on_parquet}");
    assert_eq!(on_parquet["samples"], 178);
    let predict = |input: &Path, out: &str| {
        let out = tmp.path().join(out);
        let o = trainer(&[
            "predict",
            "--checkpoint",
            ck,
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(out).unwrap()
    };
    let predicted = predict(&parts, "p.csv");
    assert_eq!(predicted, predict(&csv, "c.csv"));
    assert_eq!(predicted.lines().count(), 179, "header + 178 rows");

    let o = trainer(&["data", "inspect", file.to_str().unwrap()]);
    let report = stdout(&o);
    assert!(report.contains("Parquet table"), "{report}");
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let report = squeeze(&report);
    for want in [
        "rows 178",
        "row groups 4",
        "column proline number, 278 to 1680",
    ] {
        assert!(report.contains(want), "{want:?} in {report}");
    }
    let o = trainer(&["data", "inspect", parts.to_str().unwrap()]);
    assert!(squeeze(&stdout(&o)).contains("parts 3"), "{}", stdout(&o));
}

#[test]
fn bad_parquet_input_is_a_one_line_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let case = |script: &str, name: &str, format: &str| -> String {
        let file = tmp.path().join(format!("{name}.parquet"));
        pyarrow(script, &file);
        let e = one_line_error(&fit_on("configs/wine.toml", format, &file, &runs, name));
        assert!(e.contains(&format!("{name}.parquet")), "{e}");
        assert!(!runs.join(name).exists(), "{name}: nothing written");
        e
    };
    let e = case(
        "pq.write_table(t.drop_columns(['cultivar']), out)",
        "no-label",
        "parquet",
    );
    assert!(e.contains("no column `cultivar`"), "{e}");
    let e = case(
        "s = pa.StructArray.from_arrays([t['hue'].combine_chunks(), t['ash'].combine_chunks()], names=['a', 'b'])\n\
         pq.write_table(t.append_column('pair', s), out)",
        "nested",
        "parquet",
    );
    assert!(e.contains("column `pair` is nested (a struct)"), "{e}");
    let e = case(
        "l = pa.array([[1.0, 2.0]] * t.num_rows)\n\
         pq.write_table(t.append_column('pair', l), out)",
        "list",
        "parquet",
    );
    assert!(e.contains("column `pair` is nested (a list)"), "{e}");
    let e = case(
        "pq.write_table(t.append_column('note', pa.array(['x'] * t.num_rows)), out)",
        "text-feature",
        "parquet",
    );
    assert!(
        e.contains("row 1, column `note`: `x` is not a number"),
        "{e}"
    );
    let e = case(
        "labels = t['cultivar'].to_pylist()\n\
         labels[6] = None\n\
         t = t.set_column(t.schema.get_field_index('cultivar'), 'cultivar', pa.array(labels))\n\
         pq.write_table(t, out)",
        "null-label",
        "parquet",
    );
    assert!(e.contains("row 7, column `cultivar`: null label"), "{e}");
    let e = case("pq.write_table(t, out)", "as-csv", "csv");
    assert!(
        e.contains("a Parquet table; set data.format = \"parquet\""),
        "{e}"
    );
    let e = case(
        "open(out, 'w').write(open(sys.argv[1]).read())",
        "csv-inside",
        "parquet",
    );
    assert!(e.contains("not a Parquet file"), "{e}");
    let e = case(
        "pq.write_table(t, out)\n\
         b = open(out, 'rb').read()\n\
         open(out, 'wb').write(b[:4] + b[4:len(b) // 2])",
        "truncated",
        "parquet",
    );
    assert!(e.contains("truncated.parquet"), "{e}");
}

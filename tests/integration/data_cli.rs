//! `trainer data inspect` on real and broken datasets.

use crate::common::{one_line_error, stdout, trainer, write};

#[test]
fn inspect_describes_the_bundled_idx_dataset() {
    let o = trainer(&["data", "inspect", "datasets/mnist-10k"]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("IDX image dataset"), "{out}");
    assert!(
        out.contains("train samples") && out.contains("8000"),
        "{out}"
    );
    assert!(
        out.contains("t10k shape") && out.contains("1x28x28"),
        "{out}"
    );
    // 2,000 test images, 200 per digit.
    assert!(
        out.contains("0: 200 (10.0%)") && out.contains("9: 200 (10.0%)"),
        "{out}"
    );
}

#[test]
fn inspect_reports_csv_columns_and_text_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "t.csv", "x,kind\n1.5,a\n-2,b\n3,a\n");
    let out = stdout(&trainer(&["data", "inspect", &csv]));
    assert!(out.contains("CSV table"), "{out}");
    let row = |key: &str| {
        out.lines()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
            .find(|words| words.first() == Some(&key))
            .and_then(|words| words.last().map(|w| w.to_string()))
    };
    assert_eq!(row("rows").as_deref(), Some("3"), "{out}");
    assert_eq!(row("columns").as_deref(), Some("2"), "{out}");
    assert!(
        out.contains("column x") && out.contains("number, -2 to 3"),
        "{out}"
    );
    assert!(out.contains("text, 2 distinct (a: 2, b: 1)"), "{out}");
    let txt = write(dir.path(), "t.txt", "hello\nworld\n");
    let out = stdout(&trainer(&["data", "inspect", &txt]));
    assert!(
        out.contains("characters  12") && out.contains("8 distinct characters"),
        "{out}"
    );
}

#[test]
fn inspect_of_bad_data_is_one_line_naming_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "ragged.csv", "a,b\n1,2\n3\n");
    let e = one_line_error(&trainer(&["data", "inspect", &csv]));
    assert!(e.contains("ragged.csv") && e.contains("line 3"), "{e}");
    let txt = write(dir.path(), "latin1.txt", b"caf\xe9\n");
    let e = one_line_error(&trainer(&["data", "inspect", &txt]));
    assert!(
        e.contains("latin1.txt") && e.contains("line 1, byte 4"),
        "{e}"
    );
    let bin = write(dir.path(), "data_batch_1.bin", vec![0u8; 3000]);
    let e = one_line_error(&trainer(&["data", "inspect", &bin]));
    assert!(
        e.contains("data_batch_1.bin") && e.contains("3073-byte"),
        "{e}"
    );
    let e = one_line_error(&trainer(&["data", "inspect", "no/such/dir"]));
    assert!(e.contains("no/such/dir"), "{e}");
}

//! `data.format = "image-folder"`: the bundled MNIST subset written out as PNG and JPEG class
//! folders trains like the IDX files, augmentation does not depend on the worker count and
//! resumes exactly, bad folders and files get one-line errors, and inspect, eval and predict
//! read folders.

use crate::common::{one_line_error, repo, stderr, stdout, trainer};
use crate::resume::assert_resumes_exactly;
use crate::train_backends::{small_config, step_losses, train};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use trainer_backends::Choice;
use trainer_core::config::{Config, DataFormat};
use trainer_core::data::{DataSource, IdxDataset, ImageFolder, Normalize, load_splits};
use trainer_core::task::TaskData;

/// Writes the bundled MNIST subset as `root/train/<digit>/<index>.EXT` and
/// `root/test/<digit>/<index>.EXT` (index = position in the IDX file).
fn write_mnist_folder(root: &Path, ext: &str) {
    let src = repo().join("datasets/mnist-10k");
    for (split, prefix) in [("train", "train"), ("test", "t10k")] {
        let images = trainer_core::data::read_idx_images(
            &src.join(format!("{prefix}-images-idx3-ubyte.gz")),
        )
        .unwrap();
        let labels = trainer_core::data::read_idx_labels(
            &src.join(format!("{prefix}-labels-idx1-ubyte.gz")),
        )
        .unwrap();
        let per = images.rows * images.cols;
        for (i, label) in labels.iter().enumerate() {
            let dir = root.join(split).join(label.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            let pixels = images.pixels[i * per..(i + 1) * per].to_vec();
            let img =
                image::GrayImage::from_raw(images.cols as u32, images.rows as u32, pixels).unwrap();
            img.save(dir.join(format!("{i:05}.{ext}"))).unwrap();
        }
    }
}

/// The MNIST subset as a PNG folder, written once per test binary.
fn mnist_png() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mnist-png");
        let _ = std::fs::remove_dir_all(&dir);
        write_mnist_folder(&dir, "png");
        dir
    })
}

/// `small_config` (an MLP on the IDX subset) reading `dir` as an image folder instead.
fn folder_config(dir: &Path, seed: u64, epochs: usize) -> Config {
    let mut cfg = small_config(seed, epochs);
    cfg.data.format = DataFormat::ImageFolder;
    cfg.data.dir = dir.to_path_buf();
    cfg.data.image_size = [28, 28];
    cfg.data.channels = 1;
    cfg
}

fn test_accuracy(cfg: &Config) -> f64 {
    let (report, _) = train(&Choice::Flex, cfg);
    report.test.accuracy.expect("a classifier's accuracy")
}

#[test]
fn a_png_folder_holds_exactly_the_idx_pixels_and_trains_like_them() {
    let dir = mnist_png();
    let idx_cfg = small_config(5, 2);
    let cfg = folder_config(dir, 5, 2);
    // Lossless: every decoded sample is bit-identical to its IDX sample (file name = index).
    let norm = Normalize {
        mean: idx_cfg.data.normalize_mean as f32,
        std: idx_cfg.data.normalize_std as f32,
    };
    let idx = IdxDataset::open(&idx_cfg.data.dir, "train", norm).unwrap();
    let folder = ImageFolder::open(&dir.join("train"), None, &cfg.data).unwrap();
    assert_eq!(folder.len(), idx.len());
    assert_eq!(folder.listing().classes.len(), 10);
    let (mut a, mut b) = (vec![0f32; 784], vec![0f32; 784]);
    for (k, (path, class)) in folder.listing().files.iter().enumerate().step_by(37) {
        let i: usize = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        assert_eq!(folder.read(k, &mut a).unwrap(), *class as usize);
        assert_eq!(idx.read(i, &mut b).unwrap(), *class as usize, "{path:?}");
        assert!(a == b, "{path:?} decodes to other pixels than IDX item {i}");
    }
    // Same config and seed: within a point of the IDX run (the sample order differs).
    let (idx_acc, folder_acc) = (test_accuracy(&idx_cfg), test_accuracy(&cfg));
    assert!(
        (idx_acc - folder_acc).abs() <= 0.01,
        "IDX {idx_acc:.4} vs PNG folder {folder_acc:.4}"
    );
    assert!(folder_acc > 0.85, "{folder_acc}");
}

#[test]
fn a_jpeg_folder_trains() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist_folder(dir.path(), "jpg");
    let acc = test_accuracy(&folder_config(dir.path(), 5, 1));
    assert!(acc > 0.8, "lossy JPEG still learns: {acc}");
}

fn augmented(dir: &Path) -> Config {
    let mut cfg = folder_config(dir, 9, 1);
    cfg.data.augment.random_resized_crop = true;
    cfg.data.augment.crop_scale = [0.5, 1.0];
    cfg.data.augment.horizontal_flip = true;
    cfg
}

#[test]
fn augmented_losses_do_not_depend_on_the_worker_count() {
    let mut cfg = augmented(mnist_png());
    cfg.train.log_every = 1;
    let mut losses = Vec::new();
    for (workers, prefetch) in [(1, 1), (4, 8)] {
        (cfg.data.workers, cfg.data.prefetch) = (workers, prefetch);
        let (_, events) = train(&Choice::Flex, &cfg);
        losses.push(step_losses(&events));
    }
    assert_eq!(losses[0].len(), 80, "8,000 samples in batches of 100");
    assert_eq!(losses[0], losses[1], "1 and 4 workers");
    // And augmentation is on: the same run without it trains on other pixels.
    let mut plain = cfg.clone();
    plain.data.augment = Default::default();
    let (_, events) = train(&Choice::Flex, &plain);
    assert_ne!(step_losses(&events), losses[0]);
}

#[test]
fn an_augmented_run_stopped_mid_epoch_resumes_exactly() {
    let _serial = crate::common::train_lock();
    let mut cfg = crate::resume::config();
    let base = augmented(mnist_png());
    cfg.data.format = base.data.format;
    cfg.data.dir = base.data.dir.clone();
    cfg.data.image_size = base.data.image_size;
    cfg.data.channels = 1;
    cfg.data.augment = base.data.augment.clone();
    let data = TaskData::Images(load_splits(&cfg.data, cfg.run.seed).unwrap());
    let losses = assert_resumes_exactly(&cfg, &data, &[30]);
    assert_eq!(losses.len(), 2 * 72, "2 epochs of 7,200 training samples");
}

/// A two-class PNG folder (`n` 8x8 images a class) under `root`.
fn small_folder(root: &Path, classes: &[&str], n: usize) {
    for (c, class) in classes.iter().enumerate() {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            let shade = if c == 0 { 30 } else { 220 } + (i % 7) as u8;
            image::GrayImage::from_pixel(8, 8, image::Luma([shade]))
                .save(dir.join(format!("{i}.png")))
                .unwrap();
        }
    }
}

/// `trainer fit` of a small MLP on the image folder `root` (8x8 grey), as run `name` under
/// `root/../runs`.
fn fit_folder(root: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    let data_dir = format!("data.dir={}", root.display());
    let out = root.parent().unwrap().join("runs").display().to_string();
    let mut args = vec![
        "fit",
        "--output",
        &out,
        "--run-name",
        name,
        "--backend",
        "cpu",
        "--set",
        "data.format=\"image-folder\"",
        "--set",
        &data_dir,
        "--set",
        "data.image_size=[8, 8]",
        "--set",
        "data.channels=1",
        "--set",
        "model.mlp.hidden=[16]",
        "--set",
        "train.epochs=10",
        "--set",
        "train.lr=0.01",
        "--set",
        "train.batch_size=8",
        "--set",
        "data.eval_batch_size=8",
    ];
    args.extend_from_slice(extra);
    trainer(&args)
}

#[test]
fn bad_folders_and_files_are_one_line_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    std::fs::create_dir_all(&root).unwrap();
    let e = one_line_error(&fit_folder(&root, "a", &[]));
    assert!(e.contains("holds no class folders"), "{e}");

    small_folder(&root, &["cat", "dog"], 12);
    std::fs::create_dir_all(root.join("eel")).unwrap();
    let e = one_line_error(&fit_folder(&root, "b", &[]));
    assert!(e.contains("eel: class folder holds no .png"), "{e}");
    std::fs::remove_dir_all(root.join("eel")).unwrap();

    let e = one_line_error(&fit_folder(
        &root,
        "c",
        &["--set", "data.image_size=[0, 8]"],
    ));
    assert!(e.contains("data.image_size"), "{e}");

    // A truncated image is found when a worker decodes it: the run fails naming the file.
    let bad = root.join("dog/3.png");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let o = fit_folder(&root, "d", &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("dog/3.png: cannot be decoded as a PNG or JPEG image"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_file(&bad).unwrap();

    // Split folders whose classes differ.
    let split = tmp.path().join("split");
    small_folder(&split.join("train"), &["cat", "dog"], 6);
    small_folder(&split.join("test"), &["cat", "eel"], 2);
    let e = one_line_error(&fit_folder(&split, "e", &[]));
    assert!(
        e.contains("holds the classes [cat, eel] but the training split's classes are [cat, dog]"),
        "{e}"
    );
}

#[test]
fn inspect_eval_and_predict_read_image_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    small_folder(&root.join("train"), &["cat", "dog"], 20);
    small_folder(&root.join("test"), &["cat", "dog"], 5);
    std::fs::write(root.join("train/cat/notes.txt"), "not an image").unwrap();

    let o = trainer(&["data", "inspect", root.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = stdout(&o);
    for want in [
        "image folder",
        "cat: 20 (50.0%), dog: 20 (50.0%)",
        "8x8: 50",
        "1 entries",
    ] {
        assert!(report.contains(want), "{want}: {report}");
    }

    let o = fit_folder(&root, "folder", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("runs/folder");
    let ck = crate::tasks::newest_checkpoint(&run);
    let classes = std::fs::read_to_string(ck.join("classes.json"))
        .expect("the class names are saved in the checkpoint");
    assert!(
        classes.contains("\"cat\"") && classes.contains("\"dog\""),
        "{classes}"
    );

    // eval --data reads the folder's test/ with the checkpoint's classes.
    let ck_s = ck.to_str().unwrap();
    let m = crate::tasks::eval_whole_file(ck_s, &root, &tmp.path().join("m.json"));
    assert_eq!(m["samples"].as_u64(), Some(10), "{m}");
    assert!(m["accuracy"].as_f64().unwrap() >= 0.9, "{m}");

    // predict names each file and its class, for a folder and for one file.
    let predict = |input: &Path, output: &Path| {
        let o = trainer(&[
            "predict",
            "--checkpoint",
            ck_s,
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(output).unwrap()
    };
    let text = predict(&root.join("test/dog"), &tmp.path().join("p.csv"));
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("index,file,predicted,label,logit_0"),
        "{text}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 5, "{text}");
    assert!(rows[0].contains("test/dog/0.png,1,dog,"), "{text}");
    let one = predict(&root.join("test/cat/2.png"), &tmp.path().join("one.jsonl"));
    let row: serde_json::Value = serde_json::from_str(one.trim()).unwrap();
    assert_eq!(row["label"], "cat", "{row}");
    assert!(
        row["file"].as_str().unwrap().ends_with("cat/2.png"),
        "{row}"
    );
}

#[test]
fn with_bad_samples_skip_a_broken_file_is_left_out_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    small_folder(&root, &["cat", "dog"], 12);
    let bad = root.join("cat/5.png");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();

    // Only image folders decode per sample: another format refuses the key.
    let o = trainer(&[
        "fit",
        "--set",
        "data.bad_samples=\"skip\"",
        "--backend",
        "cpu",
    ]);
    let e = one_line_error(&o);
    assert!(
        e.contains("data.bad_samples") && e.contains("image-folder"),
        "{e}"
    );

    let o = fit_folder(&root, "skip", &["--set", "data.bad_samples=\"skip\""]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("runs/skip");
    let summary = crate::common::summary(&run);
    let skipped = summary["skipped_samples"]
        .as_array()
        .unwrap_or_else(|| panic!("skipped_samples in {summary}"));
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]
            .as_str()
            .unwrap()
            .contains("cat/5.png: cannot be decoded"),
        "{skipped:?}"
    );
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    assert!(
        journal.contains("\"event\":\"samples_skipped\"") && journal.contains("cat/5.png"),
        "{journal}"
    );
    let o = trainer(&["runs", "show", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 unreadable file(s) left out"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_cnn_and_the_resnet_train_on_a_colour_folder_and_bench_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    for (c, class) in ["red", "blue"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..16u8 {
            let px = if c == 0 {
                [200, 20 + i, 20]
            } else {
                [20, 20 + i, 200]
            };
            image::RgbImage::from_pixel(20, 14, image::Rgb(px))
                .save(root.join(class).join(format!("{i}.jpg")))
                .unwrap();
        }
    }
    let colour = [
        "--set",
        "data.channels=3",
        "--set",
        "data.image_size=[12, 12]",
    ];
    for kind in ["cnn", "resnet"] {
        let model = format!("model.kind=\"{kind}\"");
        let mut extra = colour.to_vec();
        extra.extend(["--set", &model, "--set", "train.epochs=1"]);
        let o = fit_folder(&root, kind, &extra);
        assert!(o.status.success(), "{kind}: {}", stderr(&o));
        let s = crate::common::summary(&tmp.path().join("runs").join(kind));
        assert!(s["test_accuracy"].as_f64().is_some(), "{kind}: {s}");
    }
    let data_dir = format!("data.dir={}", root.display());
    let o = trainer(&[
        "bench",
        "--set",
        "data.format=\"image-folder\"",
        "--set",
        &data_dir,
        "--set",
        "data.channels=3",
        "--set",
        "data.image_size=[12, 12]",
        "--set",
        "model.kind=\"cnn\"",
        "--set",
        "train.batch_size=8",
        "--backends",
        "cpu",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--checkpoint-repeats",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("cnn"), "{}", stdout(&o));
}

//! `trainer bench` end to end: the JSON it documents, checkpoint timing included.

use crate::common::{stderr, stdout, trainer};
use serde_json::Value;

#[test]
fn bench_json_has_step_and_checkpoint_timings_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let parent = dir.path().join("ckpt");
    std::fs::create_dir(&parent).unwrap();
    let o = trainer(&[
        "bench",
        "--backends",
        "flex",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--checkpoint-repeats",
        "2",
        "--checkpoint-dir",
        parent.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--set",
        "model.mlp.hidden=[64]",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("restore MB/s"), "{}", stdout(&o));

    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["schema"], "trainer-bench/1");
    let r = &doc["results"][0];
    assert_eq!(r["backend"], "flex");
    assert_eq!(r["steps"], 3);
    assert!(r["samples_per_sec"].as_f64().unwrap() > 0.0);
    let c = &r["checkpoint"];
    assert_eq!(c["repeats"], 2);
    // 784*64+64 + 64*10+10 parameters, f32, times three (weights + two Adam moments), at least.
    let params = 784 * 64 + 64 + 64 * 10 + 10;
    assert!(c["bytes"].as_u64().unwrap() >= 3 * 4 * params, "{c}");
    for key in [
        "save_ms",
        "encode_ms",
        "write_ms",
        "restore_ms",
        "save_mb_per_s",
    ] {
        assert!(c[key].as_f64().unwrap() > 0.0, "{key}: {c}");
    }
    let sum = c["encode_ms"].as_f64().unwrap() + c["write_ms"].as_f64().unwrap();
    assert!((c["save_ms"].as_f64().unwrap() - sum).abs() < 1e-6, "{c}");

    // The bench's temporary checkpoint directory is gone; the parent stays.
    let left: Vec<_> = std::fs::read_dir(&parent).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

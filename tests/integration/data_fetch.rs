//! `trainer data fetch` against a local HTTP server serving the repository's copies of the
//! datasets: an interrupted download resumes with a Range request and is verified; a file
//! that does not match its SHA-256 pin is discarded; nothing half-written is left in place.

use crate::common::{one_line_error, repo, stderr, trainer};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Requests the server saw: (path, the Range header if any).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Serves `files` (URL path -> bytes) over HTTP/1.1 with Range support. The first full
/// (non-range) response for a path in `cut` stops after that many body bytes and closes.
fn serve(files: HashMap<String, Vec<u8>>, cut: HashMap<String, usize>) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let seen = log.clone();
    let cut = Arc::new(Mutex::new(cut));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &files, &cut, &seen);
        }
    });
    (addr, log)
}

fn answer(
    mut stream: TcpStream,
    files: &HashMap<String, Vec<u8>>,
    cut: &Mutex<HashMap<String, usize>>,
    log: &Log,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("range:") {
            range = Some(v.trim().to_string());
        }
    }
    log.lock().unwrap().push((path.clone(), range.clone()));
    let Some(body) = files.get(&path) else {
        return stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let from: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or(0);
    let head = if range.is_some() {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\nConnection: close\r\n\r\n",
            body.len() - from,
            body.len() - 1,
            body.len()
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
    };
    stream.write_all(head.as_bytes())?;
    let mut end = body.len();
    if range.is_none()
        && let Some(n) = cut.lock().unwrap().remove(&path)
    {
        end = n; // promise the whole file, send part of it, hang up
    }
    stream.write_all(&body[from..end])?;
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let mut sink = Vec::new();
    let _ = reader.read_to_end(&mut sink);
    Ok(())
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request_and_is_verified() {
    let text = std::fs::read(repo().join("datasets/tinyshakespeare/input.txt")).unwrap();
    let files = HashMap::from([("/input.txt".to_string(), text.clone())]);
    let (addr, log) = serve(files, HashMap::from([("/input.txt".to_string(), 300_000)]));
    let dir = tempfile::tempdir().unwrap();
    let args = |d: &str| {
        vec![
            "data".to_string(),
            "fetch".into(),
            "tinyshakespeare".into(),
            "--dir".into(),
            d.into(),
            "--mirror".into(),
            addr.clone(),
        ]
    };
    let d = dir.path().display().to_string();
    let run = |a: Vec<String>| trainer(&a.iter().map(String::as_str).collect::<Vec<_>>());

    let first = run(args(&d));
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let err = stderr(&first);
    assert!(
        err.contains("interrupted after 300000 bytes") && err.contains("resume"),
        "{err}"
    );
    let dest = dir.path().join("tinyshakespeare/input.txt");
    assert!(
        !dest.exists(),
        "nothing is put in place before it is verified"
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("tinyshakespeare/input.txt.part"))
            .unwrap()
            .len(),
        300_000
    );

    let second = run(args(&d));
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("resumed at byte 300000"),
        "{}",
        stderr(&second)
    );
    assert_eq!(std::fs::read(&dest).unwrap(), text);
    assert!(!dir.path().join("tinyshakespeare/input.txt.part").exists());
    assert_eq!(
        log.lock().unwrap().last().unwrap(),
        &("/input.txt".to_string(), Some("bytes=300000-".to_string()))
    );

    let third = run(args(&d));
    assert!(
        stderr(&third).contains("already present, SHA-256 verified"),
        "{}",
        stderr(&third)
    );
}

#[test]
fn a_file_that_misses_its_sha256_pin_is_discarded() {
    // The bundled MNIST subset has the canonical names but not the canonical bytes.
    let mnist = repo().join("datasets/mnist-10k");
    let files: HashMap<String, Vec<u8>> = std::fs::read_dir(&mnist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                format!("/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    let (addr, _) = serve(files, HashMap::new());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let o = trainer(&["data", "fetch", "mnist", "--dir", &d, "--mirror", &addr]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("train-images-idx3-ubyte.gz: SHA-256 mismatch, expected 440fcabf")
            && err.contains("discarded"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("mnist"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "no file or .part is left: {left:?}");

    let e = one_line_error(&trainer(&["data", "fetch", "imagenet", "--dir", &d]));
    assert!(
        e.contains("unknown dataset `imagenet`") && e.contains("cifar10"),
        "{e}"
    );
}

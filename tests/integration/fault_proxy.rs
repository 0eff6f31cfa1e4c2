//! A fault-injecting HTTP/1.1 proxy for the tracking tests. In front of a real server it passes
//! requests through, answers 500s (half of them after the request reached the server, so the
//! client cannot tell whether it landed), or hangs after forwarding (the request lands, the
//! reply never comes, the client times out). One request per connection (`Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

/// What the proxy does with the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward it and return the server's reply.
    Pass = 0,
    /// Answer HTTP 500; every second such request is forwarded first.
    Fail500 = 1,
    /// Forward it, then hold the connection without answering, longer than the client waits.
    Hang = 2,
}

/// Counts of what the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests answered with the server's reply.
    pub passed: AtomicUsize,
    /// Requests answered with an injected 500.
    pub failed: AtomicUsize,
    /// Of those, requests that had reached the server (their effect is real).
    pub failed_after_landing: AtomicUsize,
    /// Requests forwarded and then left unanswered.
    pub hung: AtomicUsize,
}

/// A running proxy; its listener thread ends with the test process.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub uri: String,
    mode: Arc<AtomicU8>,
    /// What it has done so far.
    pub stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
}

/// How long a hung connection is held (the trainer's request timeout is 10 s).
const HANG: Duration = Duration::from_secs(15);

impl FaultProxy {
    /// Listens on a free loopback port, forwarding to `upstream`; starts in `Mode::Pass`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s, st) = (mode.clone(), stats.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (m, s) = (m.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &m, &s);
                });
            }
        });
        Self {
            uri,
            mode,
            stats,
            stop,
        }
    }

    /// Switches what happens to requests from now on.
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// A counter's current value.
    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    mode: &AtomicU8,
    stats: &Stats,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = read_request(&mut BufReader::new(client.try_clone()?))?;
    match mode.load(Ordering::SeqCst) {
        m if m == Mode::Pass as u8 => {
            let reply = forward(&request, upstream)?;
            stats.passed.fetch_add(1, Ordering::SeqCst);
            client.write_all(&reply)
        }
        m if m == Mode::Fail500 as u8 => {
            if stats.failed.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
                forward(&request, upstream)?;
                stats.failed_after_landing.fetch_add(1, Ordering::SeqCst);
            }
            let body = r#"{"error_code":"INTERNAL_ERROR","message":"injected by the test proxy"}"#;
            write!(
                client,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        _ => {
            forward(&request, upstream)?;
            stats.hung.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(HANG);
            Ok(())
        }
    }
}

/// One request: its head (with `Connection: close`) and body, as bytes ready to send.
fn read_request(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            head.extend_from_slice(b"Connection: close\r\n\r\n");
            break;
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    head.extend(body);
    Ok(head)
}

/// Sends `request` to `upstream` and returns its whole reply (the server closes after it).
fn forward(request: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(upstream)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request)?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)?;
    Ok(reply)
}

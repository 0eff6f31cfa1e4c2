//! Background threads: the first line of a panic's message, and a thread handle that reports
//! the thread's panic to whoever polls it, so a panic there ends the run instead of vanishing.

use std::any::Any;
use std::thread::JoinHandle;

/// The first line of the text a panic was raised with.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// A named thread whose panic [`Background::failure`] reports once the thread has ended.
pub struct Background {
    name: String,
    handle: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts `work` on a thread called `name`.
    pub fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> std::io::Result<Self> {
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(work)?;
        Ok(Self {
            name: name.to_string(),
            handle: Some(handle),
        })
    }

    /// "the `name` thread panicked: message" once the thread has ended by a panic (reported
    /// once); `None` while it runs and after it returned normally. Never blocks.
    pub fn failure(&mut self) -> Option<String> {
        if !self.handle.as_ref()?.is_finished() {
            return None;
        }
        self.join()
    }

    /// Waits for the thread to end; its panic as in [`Background::failure`].
    pub fn join(&mut self) -> Option<String> {
        let payload = self.handle.take()?.join().err()?;
        Some(format!(
            "the {} thread panicked: {}",
            self.name,
            panic_message(payload.as_ref())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Polls `failure` until the thread has ended (at most 10 s).
    fn ended(bg: &mut Background) -> Option<String> {
        let start = Instant::now();
        while bg.handle.as_ref().is_some_and(|h| !h.is_finished()) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "thread never ended"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        bg.failure()
    }

    #[test]
    fn a_panic_is_reported_once_with_its_first_line() {
        let mut bg = Background::spawn("writer", || panic!("disk on fire\nsecond line")).unwrap();
        assert_eq!(
            ended(&mut bg).as_deref(),
            Some("the writer thread panicked: disk on fire")
        );
        assert_eq!(bg.failure(), None);
    }

    #[test]
    fn a_thread_that_returns_reports_nothing() {
        let mut bg = Background::spawn("quiet", || {}).unwrap();
        assert_eq!(ended(&mut bg), None);
        assert_eq!(bg.join(), None);
    }
}

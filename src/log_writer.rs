//! Where log lines go: standard error, written by a thread of its own. A request hands its
//! `request finished` line over and goes on instead of waiting on a write(2) to the
//! terminal or pipe (BENCHMARKS.md, "Performance III"), and under load that thread writes
//! every line queued meanwhile in one call. When nothing waits, each line is written at
//! once, so a quiet server's log is as current as before.
//!
//! Lines still queued when the process is killed are lost (a queue's worth at most, which
//! a server rarely holds); [`flush`] writes them out before a normal exit.

use std::io::{BufWriter, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::OnceLock;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Lines that may wait for the writer thread; past it, a logging request waits as it did
/// for write(2), so nothing is dropped.
const QUEUED_LINES: usize = 16 * 1024;
/// Bytes the writer gathers into one write(2).
const BATCH_BYTES: usize = 64 * 1024;
/// How long [`flush`] waits for the writer thread.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

enum Queued {
    Line(Vec<u8>),
    /// Everything before this is written: say so on the channel.
    Flush(SyncSender<()>),
}

/// A [`MakeWriter`] whose writers queue each line for the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct BackgroundStderr {
    queue: SyncSender<Queued>,
}

/// The one writer thread's queue, started by the first [`background_stderr`].
static QUEUE: OnceLock<SyncSender<Queued>> = OnceLock::new();

/// The process's background writer to standard error, started on first use.
pub fn background_stderr() -> BackgroundStderr {
    let queue = QUEUE.get_or_init(|| {
        let (queue, lines) = sync_channel(QUEUED_LINES);
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_lines(lines, std::io::stderr()))
            .expect("spawn the log writer thread");
        queue
    });
    BackgroundStderr {
        queue: queue.clone(),
    }
}

/// Waits (briefly) until every line logged so far is written; for a normal exit.
pub fn flush() {
    let Some(queue) = QUEUE.get() else {
        return;
    };
    let (done, written) = sync_channel(1);
    if queue.send(Queued::Flush(done)).is_ok() {
        let _ = written.recv_timeout(FLUSH_TIMEOUT);
    }
}

/// The writer thread: takes a line, then every line queued behind it, and writes them
/// in one batch.
fn write_lines(queue: Receiver<Queued>, out: impl Write) {
    let mut out = BufWriter::with_capacity(BATCH_BYTES, out);
    let mut flushed = Vec::new();
    while let Ok(first) = queue.recv() {
        let mut next = Some(first);
        while let Some(queued) = next {
            match queued {
                // A log line that cannot be written has nowhere else to go.
                Queued::Line(line) => drop(out.write_all(&line)),
                Queued::Flush(done) => flushed.push(done),
            }
            next = queue.try_recv().ok();
        }
        let _ = out.flush();
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

impl<'a> MakeWriter<'a> for BackgroundStderr {
    type Writer = LineSender<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineSender(&self.queue)
    }
}

/// What one event writes into: the formatted line, queued whole.
pub struct LineSender<'a>(&'a SyncSender<Queued>);

impl Write for LineSender<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.0
            .send(Queued::Line(line.to_vec()))
            .map_err(|_| std::io::Error::other("the log writer thread is gone"))?;
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An output that records each write(2) it gets.
    #[derive(Clone, Default)]
    struct Recorded(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorded {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn queued_lines_are_written_in_order_in_one_call_and_flush_waits_for_them() {
        let (queue, lines) = sync_channel(QUEUED_LINES);
        for k in 0..100 {
            queue
                .send(Queued::Line(format!("line {k}\n").into_bytes()))
                .expect("queued");
        }
        let (done, written) = sync_channel(1);
        queue.send(Queued::Flush(done)).expect("ok");
        let out = Recorded::default();
        let writer = {
            let out = out.clone();
            std::thread::spawn(move || write_lines(lines, out))
        };
        written.recv_timeout(FLUSH_TIMEOUT).expect("flushed");
        let calls = out.0.lock().expect("lock").clone();
        let text: String = calls.iter().map(|c| String::from_utf8_lossy(c)).collect();
        let expected: String = (0..100).map(|k| format!("line {k}\n")).collect();
        assert_eq!(text, expected);
        assert_eq!(calls.len(), 1, "100 queued lines, one write");
        drop(queue);
        writer.join().expect("ok");
    }

    #[test]
    fn a_line_alone_is_written_at_once() {
        let (queue, lines) = sync_channel(QUEUED_LINES);
        let out = Recorded::default();
        let writer = {
            let out = out.clone();
            std::thread::spawn(move || write_lines(lines, out))
        };
        queue.send(Queued::Line(b"alone\n".to_vec())).expect("ok");
        let deadline = std::time::Instant::now() + FLUSH_TIMEOUT;
        while out.0.lock().expect("lock").is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(out.0.lock().expect("lock").concat(), b"alone\n");
        drop(queue);
        writer.join().expect("ok");
    }
}

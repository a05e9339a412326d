//! Where log lines go: standard error. A line is written by the request that logs it when
//! nothing else is being written, as a plain write(2); when another line is being written
//! or lines are waiting, it is queued for a thread of its own, which writes every line
//! queued meanwhile in one call (BENCHMARKS.md, "Performance III"). So a sequential
//! client's requests pay no hand-off to that thread, and under load a request hands its
//! line over instead of waiting on the terminal or pipe.
//!
//! Lines still queued when the process is killed are lost (a queue's worth at most, which
//! a server rarely holds); [`flush`] writes them out before a normal exit.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
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

/// The output, shared by the requests that write inline and the writer thread.
struct Output {
    /// Held while writing: by a request writing its own line, or by the thread a batch.
    out: Mutex<Box<dyn Write + Send>>,
    /// Lines queued for the thread and not written yet; a request writes inline only when
    /// none are, so lines keep the order they were logged in.
    queued: AtomicUsize,
}

/// A [`MakeWriter`] whose writers write each line inline or queue it. Cheap to clone.
#[derive(Clone)]
pub struct BackgroundStderr {
    queue: SyncSender<Queued>,
    output: Arc<Output>,
}

/// The process's one writer, started by the first [`background_stderr`].
static STDERR: OnceLock<BackgroundStderr> = OnceLock::new();

/// The process's writer to standard error, its thread started on first use.
pub fn background_stderr() -> BackgroundStderr {
    STDERR
        .get_or_init(|| start(Box::new(std::io::stderr())))
        .clone()
}

/// A writer to `out` with its thread.
fn start(out: Box<dyn Write + Send>) -> BackgroundStderr {
    let (queue, lines) = sync_channel(QUEUED_LINES);
    let output = Arc::new(Output {
        out: Mutex::new(out),
        queued: AtomicUsize::new(0),
    });
    let thread_output = output.clone();
    std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_lines(lines, &thread_output))
        .expect("spawn the log writer thread");
    BackgroundStderr { queue, output }
}

/// Waits (briefly) until every line logged so far is written; for a normal exit.
pub fn flush() {
    if let Some(writer) = STDERR.get() {
        writer.flush_queue();
    }
}

impl BackgroundStderr {
    fn flush_queue(&self) {
        let (done, written) = sync_channel(1);
        if self.queue.send(Queued::Flush(done)).is_ok() {
            let _ = written.recv_timeout(FLUSH_TIMEOUT);
        }
    }

    /// Writes `line` at once if nothing is being written or waiting, else queues it.
    fn write_line(&self, line: &[u8]) -> std::io::Result<()> {
        if self.output.queued.load(Ordering::Acquire) == 0 {
            if let Ok(mut out) = self.output.out.try_lock() {
                if self.output.queued.load(Ordering::Acquire) == 0 {
                    // A log line that cannot be written has nowhere else to go.
                    let _ = out.write_all(line);
                    return Ok(());
                }
            }
        }
        self.output.queued.fetch_add(1, Ordering::AcqRel);
        self.queue
            .send(Queued::Line(line.to_vec()))
            .map_err(|_| std::io::Error::other("the log writer thread is gone"))
    }
}

/// The writer thread: takes a line, then every line queued behind it, and writes them
/// in one call.
fn write_lines(queue: Receiver<Queued>, output: &Output) {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    let mut flushed = Vec::new();
    while let Ok(first) = queue.recv() {
        let mut lines = 0;
        let mut next = Some(first);
        while let Some(queued) = next {
            match queued {
                Queued::Line(line) => {
                    batch.extend_from_slice(&line);
                    lines += 1;
                }
                Queued::Flush(done) => flushed.push(done),
            }
            next = match batch.len() < BATCH_BYTES {
                true => queue.try_recv().ok(),
                false => None,
            };
        }
        {
            let mut out = output
                .out
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let _ = out.write_all(&batch);
            let _ = out.flush();
            // Still holding the output: a request that sees zero now writes after these.
            output.queued.fetch_sub(lines, Ordering::AcqRel);
        }
        batch.clear();
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}

impl<'a> MakeWriter<'a> for BackgroundStderr {
    type Writer = LineSender<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineSender(self)
    }
}

/// What one event writes into: the formatted line, written or queued whole.
pub struct LineSender<'a>(&'a BackgroundStderr);

impl Write for LineSender<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.0.write_line(line)?;
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

    /// A writer to a fresh [`Recorded`], with its thread.
    fn recorded() -> (BackgroundStderr, Recorded) {
        let out = Recorded::default();
        (start(Box::new(out.clone())), out)
    }

    #[test]
    fn queued_lines_are_written_in_order_in_one_call_and_flush_waits_for_them() {
        let (queue, lines) = sync_channel(QUEUED_LINES);
        let out = Recorded::default();
        let output = Arc::new(Output {
            out: Mutex::new(Box::new(out.clone())),
            queued: AtomicUsize::new(100),
        });
        for k in 0..100 {
            queue
                .send(Queued::Line(format!("line {k}\n").into_bytes()))
                .expect("queued");
        }
        let (done, written) = sync_channel(1);
        queue.send(Queued::Flush(done)).expect("ok");
        let writer = {
            let output = output.clone();
            std::thread::spawn(move || write_lines(lines, &output))
        };
        written.recv_timeout(FLUSH_TIMEOUT).expect("flushed");
        let calls = out.0.lock().expect("lock").clone();
        let text: String = calls.iter().map(|c| String::from_utf8_lossy(c)).collect();
        let expected: String = (0..100).map(|k| format!("line {k}\n")).collect();
        assert_eq!(text, expected);
        assert_eq!(calls.len(), 1, "100 queued lines, one write");
        assert_eq!(output.queued.load(Ordering::Acquire), 0);
        drop(queue);
        writer.join().expect("ok");
    }

    #[test]
    fn a_line_alone_is_written_by_its_caller_before_it_goes_on() {
        let (writer, out) = recorded();
        writer.write_line(b"alone\n").expect("written");
        // No waiting: the caller wrote it itself, with no hand-off to the thread.
        assert_eq!(out.0.lock().expect("lock").concat(), b"alone\n");
    }

    #[test]
    fn a_line_logged_while_another_is_written_waits_its_turn_in_order() {
        let (writer, out) = recorded();
        {
            // Another line is being written: these two must queue, in order.
            let _writing = writer.output.out.lock().expect("lock");
            writer.write_line(b"first\n").expect("queued");
            writer.write_line(b"second\n").expect("queued");
        }
        writer.write_line(b"third\n").expect("written or queued");
        writer.flush_queue();
        let text = out.0.lock().expect("lock").concat();
        assert_eq!(String::from_utf8_lossy(&text), "first\nsecond\nthird\n");
    }
}

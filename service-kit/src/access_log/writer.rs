//! [`AccessLog`]: the bounded queue and the thread that formats and writes
//! its entries.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::Entry;
use super::format::{Format, dropped_line};

/// Entries waiting for the writer. At 100,000 requests/s the writer takes
/// about 500 per batch window, so a full queue means it has fallen far
/// behind (a blocked output), not a burst.
pub(super) const QUEUE: usize = 16_384;

/// After writing a batch the writer waits this long before taking the next
/// one, so that under load it wakes a few hundred times a second rather
/// than once per request, and requests never pay for waking it. Idle, it
/// blocks until the next entry.
const BATCH_WINDOW: Duration = Duration::from_millis(5);

/// Largest single write: writes of at most `PIPE_BUF` (4 KiB on Linux) to
/// a pipe are atomic, so a chunk never interleaves with another writer's.
const CHUNK: usize = 4096;

enum Msg {
    Entry(Box<Entry>),
    Flush(SyncSender<()>),
}

/// An access log: where [`super::AccessLayer`] sends entries. Cheap to
/// clone; the writer thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Entry(_) => "Entry",
            Msg::Flush(_) => "Flush",
        })
    }
}

static GLOBAL: OnceLock<AccessLog> = OnceLock::new();

/// The process's access log, once [`crate::telemetry::init`] has made it.
pub(super) fn installed() -> Option<&'static AccessLog> {
    GLOBAL.get()
}

impl AccessLog {
    /// Starts a writer thread that writes lines (JSON when `json`) to `out`.
    pub fn start(json: bool, out: impl Write + Send + 'static) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let format = if json { Format::Json } else { Format::Text };
        let counter = dropped.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || run(&rx, format, out, &counter))?;
        Ok(AccessLog { tx, dropped })
    }

    /// The process's access log, started on first use (writing to stderr).
    /// `None` if the thread cannot be started.
    pub fn global(json: bool) -> Option<&'static AccessLog> {
        if let Some(log) = GLOBAL.get() {
            return Some(log);
        }
        let log = AccessLog::start(json, std::io::stderr()).ok()?;
        Some(GLOBAL.get_or_init(|| log))
    }

    /// Queues an entry; drops and counts it if the queue is full.
    pub(super) fn send(&self, entry: Entry) {
        match self.tx.try_send(Msg::Entry(Box::new(entry))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until everything queued before this call is written, at most
    /// `timeout`; `false` if that did not happen in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done_tx, done_rx) = sync_channel(1);
        let deadline = std::time::Instant::now() + timeout;
        let mut msg = Msg::Flush(done_tx);
        // The queue may be full: retry until the deadline rather than block.
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if std::time::Instant::now() >= deadline {
                        return false;
                    }
                    msg = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        done_rx.recv_timeout(left).is_ok()
    }
}

/// The writer thread: takes what has queued, formats it into chunks,
/// writes them, waits a batch window, and again.
fn run(rx: &Receiver<Msg>, format: Format, mut out: impl Write, dropped: &AtomicU64) {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut line = Vec::with_capacity(512);
    let mut reported = 0;
    // Blocks while idle; ends when every sender is gone.
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Entry(entry) => {
                    line.clear();
                    format.write(&entry, &mut line);
                    push(&mut out, &mut chunk, &line);
                }
                Msg::Flush(done) => {
                    write_out(&mut out, &mut chunk);
                    let _ = out.flush();
                    let _ = done.try_send(());
                }
            }
            next = rx.try_recv().ok();
        }
        let now = dropped.load(Ordering::Relaxed);
        if now != reported {
            line.clear();
            dropped_line(format, now - reported, &mut line);
            push(&mut out, &mut chunk, &line);
            reported = now;
        }
        write_out(&mut out, &mut chunk);
        std::thread::sleep(BATCH_WINDOW);
    }
    write_out(&mut out, &mut chunk);
    let _ = out.flush();
}

/// Appends `line` to `chunk`, writing the chunk first if the line would
/// not fit; a line longer than a chunk is written alone.
fn push(out: &mut impl Write, chunk: &mut Vec<u8>, line: &[u8]) {
    if chunk.len() + line.len() > CHUNK {
        write_out(out, chunk);
    }
    if line.len() > CHUNK {
        // Nothing to do about an error: the log has nowhere else to go.
        let _ = out.write_all(line);
    } else {
        chunk.extend_from_slice(line);
    }
}

fn write_out(out: &mut impl Write, chunk: &mut Vec<u8>) {
    if !chunk.is_empty() {
        let _ = out.write_all(chunk);
        chunk.clear();
    }
}

use std::io::Write;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;

use super::*;

/// An output the test reads back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Emits what the middleware emits for one request, with `sub` and `auth`
/// recorded the way jwks-client records them.
fn one_request(log: &AccessLog, sub: &str) {
    let subscriber = tracing_subscriber::registry().with(log.layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!(
            "request",
            request_id = "r-1",
            sub = tracing::field::Empty,
            auth = tracing::field::Empty
        );
        let _enter = span.enter();
        let inner = tracing::info_span!("handler");
        let _inner = inner.enter();
        tracing::Span::current().record("sub", sub);
        span.record("sub", sub);
        span.record("auth", "ok");
        tracing::info!(target: "other", "not an access line");
        tracing::info!(
            target: TARGET,
            request_id = "r-1",
            method = "GET",
            route = "/v1/items/{id}",
            status = 200u64,
            latency_us = 85u64,
            "{}",
            MESSAGE
        );
    });
}

#[test]
fn a_text_line_carries_what_an_operator_needs_and_quotes_hostile_values() {
    let out = Shared::default();
    let Ok(log) = AccessLog::start(false, out.clone()) else {
        panic!("writer thread")
    };
    one_request(&log, "alice");
    one_request(&log, "mallory\n2026-01-01T00:00:00Z  INFO forged");
    assert!(log.flush(Duration::from_secs(5)));
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let line = &lines[0];
    assert!(
        line.ends_with(
            " INFO access: request finished request_id=r-1 method=GET \
         route=/v1/items/{id} status=200 latency_us=85 sub=alice auth=ok"
        ),
        "{line}"
    );
    // 2026-05-01T12:00:00.123456Z
    assert_eq!(line.as_bytes()[10], b'T');
    assert_eq!(&line[26..28], "Z ");
    assert!(
        lines[1].contains(r#"sub="mallory\n2026-01-01T00:00:00Z  INFO forged""#),
        "{}",
        lines[1]
    );
    assert_eq!(log.dropped(), 0);
}

#[test]
fn a_json_line_is_one_object_with_the_same_fields() {
    let out = Shared::default();
    let Ok(log) = AccessLog::start(true, out.clone()) else {
        panic!("writer thread")
    };
    one_request(&log, "bob \"the\" builder");
    assert!(log.flush(Duration::from_secs(5)));
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap_or_default();
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["target"], "access");
    assert_eq!(v["message"], "request finished");
    assert_eq!(v["route"], "/v1/items/{id}");
    assert_eq!(v["status"], 200);
    assert_eq!(v["latency_us"], 85);
    assert_eq!(v["sub"], "bob \"the\" builder");
    assert_eq!(v["auth"], "ok");
    assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
}

/// An output whose first write blocks until the test lets it go.
struct Stuck {
    entered: Sender<()>,
    release: Arc<Mutex<Receiver<()>>>,
    inner: Shared,
}

impl Write for Stuck {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.entered.send(());
        let _ = self
            .release
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .recv_timeout(Duration::from_secs(10));
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking_and_says_so() {
    let (entered_tx, entered) = channel();
    let (release, release_rx) = channel();
    let out = Shared::default();
    let stuck = Stuck {
        entered: entered_tx,
        release: Arc::new(Mutex::new(release_rx)),
        inner: out.clone(),
    };
    let Ok(log) = AccessLog::start(false, stuck) else {
        panic!("writer thread")
    };
    log.send(Entry::new(Level::INFO));
    assert!(entered.recv_timeout(Duration::from_secs(5)).is_ok());
    // The writer is stuck in its first write: the queue fills, then drops.
    let started = std::time::Instant::now();
    for _ in 0..writer::QUEUE + 10 {
        log.send(Entry::new(Level::INFO));
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "sending blocked"
    );
    assert_eq!(log.dropped(), 10);
    for _ in 0..writer::QUEUE + 4 {
        let _ = release.send(());
    }
    assert!(log.flush(Duration::from_secs(10)));
    let lines = out.lines();
    assert_eq!(
        lines.len(),
        1 + writer::QUEUE + 1,
        "every queued line and one report"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN access: access log queue full: lines dropped dropped=10")),
        "{:?}",
        lines.last()
    );
}

//! The access log: one structured line per HTTP request, written off the
//! request path.
//!
//! The request-id middleware ([`crate::request_id`]) ends every request
//! with an event of target [`TARGET`] (`access`) inside the request's root
//! span: `INFO`, or `DEBUG` for a successful health check or scrape. It
//! carries the request id, method, route *pattern* (never the raw path),
//! status and latency; code further in records the authenticated `sub` and
//! the authentication outcome `auth` into the root span (jwks-client's
//! `Bearer` extractor does). [`AccessLayer`] turns the event and those two
//! span fields into an entry and hands it to a writer thread through a
//! bounded queue, so a request never waits for the log: when the queue is
//! full the line is dropped and counted ([`AccessLog::dropped`], exported
//! by `http_metrics` as `access_log_dropped_total`), and the writer says
//! so in a line of its own. The thread formats lines as text or JSON, like
//! the other log lines, and writes them in chunks of at most 4 KiB that end
//! at a line boundary, so they never interleave mid-line with lines other
//! threads write to the same pipe.
//!
//! `RUST_LOG` filters it like any other target: `RUST_LOG=warn` turns it
//! off, `RUST_LOG=warn,access=info` keeps only it. No token, query string
//! or header other than the request id reaches it.
//!
//! [`crate::telemetry::init`] installs the layer with the process's log
//! format; a service flushes it at shutdown with [`flush`].

mod format;
mod writer;

use std::time::{Duration, SystemTime};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

pub use writer::AccessLog;

/// The target of access-log events.
pub const TARGET: &str = "access";

/// The message of access-log events.
pub const MESSAGE: &str = "request finished";

/// One request, as the writer formats it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    time: SystemTime,
    level: Level,
    request_id: String,
    method: String,
    route: String,
    status: u64,
    latency_us: u64,
    sub: Option<String>,
    auth: Option<String>,
}

impl Entry {
    fn new(level: Level) -> Self {
        Entry {
            time: SystemTime::now(),
            level,
            request_id: String::new(),
            method: String::new(),
            route: String::new(),
            status: 0,
            latency_us: 0,
            sub: None,
            auth: None,
        }
    }
}

impl Visit for Entry {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "request_id" => &mut self.request_id,
            "method" => &mut self.method,
            "route" => &mut self.route,
            _ => return,
        };
        value.clone_into(slot);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => self.status = value,
            "latency_us" => self.latency_us = value,
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%value` fields arrive here; only the text fields are wanted.
        if matches!(field.name(), "request_id" | "method" | "route") {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// `sub` and `auth` as recorded into a span.
#[derive(Debug, Default)]
struct SpanFields {
    sub: Option<String>,
    auth: Option<String>,
}

impl Visit for SpanFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "sub" => self.sub = Some(value.to_owned()),
            "auth" => self.auth = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "sub" | "auth") {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// The `tracing` layer that feeds an [`AccessLog`]; see the module docs.
#[derive(Debug, Clone)]
pub struct AccessLayer {
    log: AccessLog,
}

impl AccessLog {
    /// The layer that sends this log its entries.
    pub fn layer(&self) -> AccessLayer {
        AccessLayer { log: self.clone() }
    }
}

impl<S> Layer<S> for AccessLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Only spans that declare `sub` or `auth` can carry them.
        let fields = attrs.metadata().fields();
        if (fields.field("sub").is_some() || fields.field("auth").is_some())
            && let Some(span) = ctx.span(id)
        {
            let mut values = SpanFields::default();
            attrs.record(&mut values);
            span.extensions_mut().insert(values);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() != TARGET {
            return;
        }
        let mut entry = Entry::new(*meta.level());
        event.record(&mut entry);
        if let Some(span) = ctx.event_span(event) {
            for span in span.scope() {
                if let Some(fields) = span.extensions_mut().get_mut::<SpanFields>() {
                    entry.sub = fields.sub.take();
                    entry.auth = fields.auth.take();
                    break;
                }
            }
        }
        self.log.send(entry);
    }
}

/// Writes out what the process's access log holds, waiting at most
/// `timeout`; `false` if it did not finish (or there is no access log).
pub fn flush(timeout: Duration) -> bool {
    writer::installed().is_some_and(|log| log.flush(timeout))
}

/// Lines the process's access log dropped because its queue was full.
pub fn dropped() -> u64 {
    writer::installed().map_or(0, AccessLog::dropped)
}

#[cfg(test)]
mod tests;

//! Records a producer captures on its own thread and the writer thread
//! makes into text.
//!
//! Formatting a record (escaping, timestamps, ids, the key) costs more than
//! everything else the application's thread does for it. A producer can
//! instead send its record's raw parts as a value of its own type `C`
//! ([`Capture`]): the sink carries it through the queue as it is, and the
//! writer thread calls [`Capture::render`] just before encoding, with the
//! renderer it owns ([`Capture::Renderer`]: what every record needs to be
//! rendered, such as a key layout, kept once by the writer rather than in
//! each record, and free to keep caches without a lock). `tracing-kvp`
//! sends its events and spans this way.

use std::fmt;

use kvp_codec::Level;

/// A record in a producer's own form, made into a key and a value on the
/// writer thread. Send it with [`Sink::capture`](crate::Sink::capture) on a
/// sink started with [`WriterBuilder::spawn_for`](crate::WriterBuilder::spawn_for).
///
/// ```
/// use kvp_sink::{Capture, RenderError, WriterBuilder};
///
/// /// A counter sample, formatted only on the writer thread.
/// struct Sample { name: &'static str, value: u64 }
///
/// impl Capture for Sample {
///     type Renderer = ();
///     fn level(&self) -> Option<kvp_codec::Level> { None }
///     fn render(&self, _: &mut (), key: &mut String, value: &mut String) -> Result<(), RenderError> {
///         key.push_str(self.name);
///         value.push_str(&format!("value={}", self.value));
///         Ok(())
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let (sink, guard, _) = WriterBuilder::new(dir.path().join(".kvp_pool_1")).spawn_for::<Sample>()?;
/// sink.capture(Sample { name: "disk_writes", value: 7 });
/// sink.append(None, "text", "still possible"); // text records go through the same sink
/// assert!(guard.flush(std::time::Duration::from_secs(5)));
/// assert_eq!(guard.stats().written, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Capture: Send + 'static {
    /// What the writer thread keeps to render records with, for the life
    /// of the writer: made by `Default` when the writer starts, and set up
    /// by producers through [`Sink::configure_renderer`](crate::Sink::configure_renderer),
    /// in order with their records. `()` when each record carries all it
    /// needs.
    type Renderer: Send + 'static;

    /// The record's level: ERROR records may use the cap's reserve.
    fn level(&self) -> Option<Level>;

    /// Writes the record's key into `key` and its value into `value` (both
    /// empty), with the writer's `renderer`. An error, a panic or an empty
    /// key drops the record and counts it (`Stats::dropped_invalid`); the
    /// writer goes on.
    fn render(
        &self,
        renderer: &mut Self::Renderer,
        key: &mut String,
        value: &mut String,
    ) -> Result<(), RenderError>;

    /// Bytes the capture holds on the heap, for the queue's byte budget
    /// ([`WriterBuilder::queue_bytes`](crate::WriterBuilder::queue_bytes)).
    /// The default, 0, suits a capture that keeps everything inline.
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// A [`Capture`] could not be made into a record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderError;

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the producer could not render its captured record")
    }
}

impl std::error::Error for RenderError {}

/// The capture type of a sink that carries text records only: it has no
/// values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoCapture {}

impl Capture for NoCapture {
    type Renderer = ();

    fn level(&self) -> Option<Level> {
        match *self {}
    }

    fn render(&self, _: &mut (), _: &mut String, _: &mut String) -> Result<(), RenderError> {
        match *self {}
    }
}

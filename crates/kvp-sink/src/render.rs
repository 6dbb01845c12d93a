//! Records whose text is made on the writer thread.
//!
//! Formatting a record (escaping, timestamps, ids, the key) costs more than
//! everything else the application's thread does for it. A producer that
//! registers a [`Render`] can instead send the record's raw parts, captured
//! in a compact form of its own, and the writer thread renders them into a
//! key and a value just before encoding. `tracing-kvp` uses this for events
//! and spans.

use std::any::Any;
use std::sync::Arc;

use parking_lot::RwLock;

/// Turns captured records into text, on the writer thread.
pub trait Render: Send + Sync + 'static {
    /// Writes the key and the value of the record captured as `bytes`, with
    /// the `context` it was sent with, into `key` and `value` (both empty).
    /// What `bytes` mean is up to the producer that wrote them. An empty
    /// key makes the writer drop the record as invalid (and count it).
    fn render(
        &self,
        context: &'static (dyn Any + Send + Sync),
        bytes: &[u8],
        key: &mut String,
        value: &mut String,
    );
}

/// Names a [`Render`] registered with a sink; see
/// [`Sink::register_renderer`](crate::Sink::register_renderer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RendererId(pub(crate) u32);

/// The renderers of one writer, shared by its sinks and its thread. They
/// are few (one per layer built on the sink) and never removed.
#[derive(Clone, Default)]
pub(crate) struct Renderers(Arc<RwLock<Vec<Arc<dyn Render>>>>);

impl std::fmt::Debug for Renderers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Renderers({})", self.0.read().len())
    }
}

impl Renderers {
    pub(crate) fn register(&self, render: Arc<dyn Render>) -> RendererId {
        let mut all = self.0.write();
        all.push(render);
        RendererId(u32::try_from(all.len() - 1).unwrap_or(u32::MAX))
    }

    /// Every renderer registered so far.
    pub(crate) fn snapshot(&self) -> Vec<Arc<dyn Render>> {
        self.0.read().clone()
    }
}

//! What a pool holds once read: spans, events, and the tree of nodes that
//! nests them.
//!
//! A tree built from a hostile file can be thousands of levels deep, so
//! nothing here recurses: [`Tree`]'s drop takes nodes apart with a stack of
//! its own, where the default drop would recurse once per level.

use crate::time::Time;

/// How a span ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Warn,
    Error,
    /// No close record: still running, or the process died.
    Open,
    /// The writer does not say (azure-init).
    Unknown,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Error => "error",
            Status::Open => "open",
            Status::Unknown => "",
        }
    }
}

/// A span, with what happened inside it.
#[derive(Debug)]
pub(crate) struct Span {
    pub(crate) name: String,
    /// Its id in the pool, when the writer gives one.
    pub(crate) id: Option<String>,
    pub(crate) level: Option<String>,
    pub(crate) start: Option<Time>,
    pub(crate) end: Option<Time>,
    pub(crate) duration_ms: Option<f64>,
    pub(crate) status: Status,
    pub(crate) fields: Vec<(String, String)>,
    /// The index of its record in the pool.
    pub(crate) index: usize,
    /// On the chain from a root to the first error.
    pub(crate) on_error_path: bool,
    pub(crate) children: Vec<Node>,
    /// Which run of its writer wrote it (`run <id>`, `boot <id>`), when the
    /// writer says: a pool can hold several.
    pub(crate) run: Option<String>,
}

/// An event.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) level: String,
    pub(crate) time: Option<Time>,
    /// Its target (ours) or name (the peers').
    pub(crate) name: String,
    pub(crate) message: Option<String>,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) index: usize,
    /// The first error in the pool.
    pub(crate) first_error: bool,
    /// Which run of its writer wrote it, as [`Span::run`].
    pub(crate) run: Option<String>,
}

/// One line of the tree and what hangs below it.
#[derive(Debug)]
pub(crate) enum Node {
    Span(Span),
    Event(Event),
    /// Events that name a span whose records are not in the pool.
    UnknownSpan {
        id: String,
        children: Vec<Node>,
        /// The first error is among them.
        on_error_path: bool,
    },
}

/// The whole pool as a tree.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) roots: Vec<Node>,
    /// The last `PROVISIONING_REPORT` value.
    pub(crate) report: Option<String>,
    /// Metric records (one per series), not part of the tree.
    pub(crate) metrics: usize,
    /// Records that are neither spans, events, metrics nor a report.
    pub(crate) other: usize,
    /// Records that could not be decoded.
    pub(crate) unreadable: usize,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let mut stack: Vec<Node> = std::mem::take(&mut self.roots);
        while let Some(mut node) = stack.pop() {
            match &mut node {
                Node::Span(s) => stack.append(&mut s.children),
                Node::UnknownSpan { children, .. } => stack.append(children),
                Node::Event(_) => {}
            }
            // `node` goes here with no children left to recurse into.
        }
    }
}

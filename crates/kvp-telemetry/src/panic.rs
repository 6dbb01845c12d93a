//! Flushing the pool when the process panics.

use std::time::Duration;

use kvp_sink::{Capture, Sink};

/// Chains a panic hook that records the panic as an ERROR event (through
/// whatever subscriber is current, so the KVP layer writes it) and flushes
/// the writer's queue, waiting at most `deadline`, before the previous hook
/// runs and the process goes down.
pub(crate) fn install<C: Capture>(sink: Sink<C>, deadline: Duration) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(target: "panic", error = %message, location = %location, "the process panicked");
        sink.flush(deadline);
        previous(info);
    }));
}

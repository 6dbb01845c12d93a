//! Standard output for commands whose reader may go away: `kvp dump | head`
//! and `kvp follow | head -1` end quietly when the pipe closes.

use std::io::Write as _;
use std::os::fd::AsRawFd as _;

/// Whether the reader is still there after a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reader {
    /// Lines can still be written.
    Open,
    /// The pipe closed: the command should stop, successfully.
    Gone,
}

/// Writes `lines` to stdout, one per line, and flushes. A closed pipe is
/// [`Reader::Gone`], not an error.
pub(crate) fn print_lines(lines: impl IntoIterator<Item = String>) -> std::io::Result<Reader> {
    let mut out = std::io::stdout().lock();
    let written = lines
        .into_iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(Reader::Open),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Reader::Gone),
        Err(e) => Err(e),
    }
}

/// [`print_lines`] for a command: a closed pipe ends it successfully.
pub(crate) fn print_all(lines: impl IntoIterator<Item = String>) -> crate::exit::Result {
    print_lines(lines)?;
    Ok(())
}

/// Lines printed in batches as they are made, so that a command streaming
/// a large file holds a few hundred lines, not the file's worth.
#[derive(Default)]
pub(crate) struct Lines {
    lines: Vec<String>,
}

impl Lines {
    const AT_ONCE: usize = 256;

    /// Adds a line, printing the batch when it is full.
    pub(crate) fn push(&mut self, line: String) -> std::io::Result<Reader> {
        self.lines.push(line);
        if self.lines.len() < Self::AT_ONCE {
            return Ok(Reader::Open);
        }
        self.flush()
    }

    /// Prints what is left.
    pub(crate) fn flush(&mut self) -> std::io::Result<Reader> {
        print_lines(self.lines.drain(..))
    }
}

/// Whether stdout is a pipe whose reader has closed, checked without
/// writing: an idle `follow` otherwise notices only at its next record,
/// which may never come.
pub(crate) fn reader_gone() -> bool {
    let mut fd = libc::pollfd {
        fd: std::io::stdout().as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: `fd` is one valid pollfd that outlives the call, the count
    // is 1, and a zero timeout makes the call return at once.
    let rc = unsafe { libc::poll(&mut fd, 1, 0) };
    // The write end of a pipe reports POLLERR once no reader is left.
    rc > 0 && fd.revents & libc::POLLERR != 0
}

//! The local terminal, for `stack exec -t`: its size, and raw mode while a command has it.

use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetwinsize, tcsetattr};

/// The terminal on standard input in raw mode (no echo, no line editing, keys such as Ctrl-C
/// passed on as bytes) until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    pub fn enable() -> Result<RawMode, String> {
        let stdin = std::io::stdin();
        let failed = |error: rustix::io::Errno| format!("cannot put the terminal in raw mode: {error}");
        let saved = tcgetattr(&stdin).map_err(failed)?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&stdin, OptionalActions::Now, &raw).map_err(failed)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// The size of the terminal on standard output, columns then rows; `None` when it is none.
pub fn size() -> Option<(u16, u16)> {
    let size = tcgetwinsize(std::io::stdout()).ok()?;
    (size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col, size.ws_row))
}

//! Where and how results and diagnostics are printed.

use std::io::{IsTerminal, Write};

use stack_diagnostics::{Diagnostic, RenderOptions, Sources, render};

pub struct Output {
    color: bool,
    /// Show the logs of providers outside the binary (`--verbose`).
    pub verbose: bool,
}

impl Output {
    /// Colors only on a terminal, and never with NO_COLOR set (https://no-color.org).
    pub fn detect(verbose: bool) -> Output {
        Output {
            color: !no_color() && std::io::stderr().is_terminal(),
            verbose,
        }
    }

    /// Whether what goes to standard output may be colored, by the same rule.
    pub fn stdout_color() -> bool {
        !no_color() && std::io::stdout().is_terminal()
    }

    pub fn diagnostics<'a>(&self, diagnostics: impl IntoIterator<Item = &'a Diagnostic>, sources: &Sources) {
        let options = RenderOptions {
            color: self.color,
            ..RenderOptions::plain()
        };
        let text = render(diagnostics, sources, options);
        let _ = std::io::stderr().write_all(text.as_bytes());
    }

    pub fn error(&self, message: &str) {
        eprintln!("error: {message}");
    }
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

//! Source files, spans and the diagnostic type shared by every phase.
//!
//! Every phase (syntax, evaluation, checks, graph, plan) reports problems as
//! [`Diagnostic`]s that point into [`Sources`]. They are collected, never
//! thrown one at a time, so a user sees every error of a stack at once, and
//! rendered in one place by [`render`].

mod diagnostic;
mod render;
mod source;

pub use diagnostic::{Diagnostic, Diagnostics, Label, Severity};
pub use render::{RenderOptions, render};
pub use source::{FileId, SourceFile, Sources, Span};

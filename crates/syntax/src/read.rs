//! From a file's bytes to text: the checks made before any parsing.

use stack_diagnostics::{Diagnostic, FileId, Span};

/// The largest stack file read, in bytes (8 MiB).
pub const MAX_FILE_SIZE: usize = 8 * 1024 * 1024;

const BYTE_ORDER_MARK: &str = "\u{FEFF}";

/// The text of a file read as `bytes`, without its byte order mark if it has one.
///
/// Fails with `stack::file_too_large` over [`MAX_FILE_SIZE`] and with
/// `stack::not_utf8` when the bytes are not UTF-8. The spans of the error
/// point into `String::from_utf8_lossy(bytes)`, the text a caller can show
/// for such a file: up to the first invalid byte it has the same offsets.
pub fn read(file: FileId, bytes: &[u8]) -> Result<&str, Diagnostic> {
    if bytes.len() > MAX_FILE_SIZE {
        return Err(file_too_large(file, bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| not_utf8(file, bytes, error.valid_up_to()))?;
    Ok(text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text))
}

fn file_too_large(file: FileId, size: usize) -> Diagnostic {
    Diagnostic::error(
        "stack::file_too_large",
        format!("the file is {size} bytes long; a stack file may be at most {MAX_FILE_SIZE} bytes (8 MiB)"),
    )
    .primary(Span::file_start(file), "this file")
    .help("split it: every `*.kdl` file of a stack directory is read, so resources can live in several files")
}

fn not_utf8(file: FileId, bytes: &[u8], offset: usize) -> Diagnostic {
    let line = 1 + bytes[..offset].iter().filter(|&&byte| byte == b'\n').count();
    let looks_like_utf16 = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
    let help = if looks_like_utf16 {
        "the file looks like UTF-16; save it as UTF-8 (stack files are KDL v2, which is UTF-8)"
    } else {
        "save the file as UTF-8 (stack files are KDL v2, which is UTF-8)"
    };
    // From the lossy text's point of view the invalid bytes are one U+FFFD.
    let replacement_len = char::REPLACEMENT_CHARACTER.len_utf8();
    Diagnostic::error(
        "stack::not_utf8",
        format!("the file is not UTF-8: invalid byte at line {line} (byte offset {offset})"),
    )
    .primary(Span::new(file, offset..offset + replacement_len), "not UTF-8")
    .help(help)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack_diagnostics::Sources;

    fn file() -> FileId {
        Sources::new().add("stack.kdl", "stack.kdl", "")
    }

    #[test]
    fn returns_the_text_without_a_byte_order_mark() {
        assert_eq!(read(file(), b"a 1\n"), Ok("a 1\n"));
        assert_eq!(read(file(), "\u{FEFF}a 1\n".as_bytes()), Ok("a 1\n"));
        assert_eq!(read(file(), b""), Ok(""));
    }

    #[test]
    fn reports_the_first_invalid_byte() {
        let error = read(file(), b"a 1\nb \"\xC3\x28\"\n").expect_err("invalid UTF-8");
        assert_eq!(error.code, "stack::not_utf8");
        assert!(
            error.message.contains("line 2 (byte offset 7)"),
            "{}",
            error.message
        );
        assert_eq!(error.primary_span().map(Span::range), Some(7..10));
    }

    #[test]
    fn recognizes_utf16() {
        let error = read(file(), b"\xFF\xFEa\x00").expect_err("UTF-16");
        assert!(error.help.as_deref().is_some_and(|help| help.contains("UTF-16")));
    }

    #[test]
    fn rejects_files_over_8_mib() {
        let bytes = vec![b' '; MAX_FILE_SIZE + 1];
        let error = read(file(), &bytes).expect_err("too large");
        assert_eq!(error.code, "stack::file_too_large");
        assert!(read(file(), &bytes[..MAX_FILE_SIZE]).is_ok());
    }
}

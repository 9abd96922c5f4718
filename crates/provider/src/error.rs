use std::fmt;

/// A failure of a provider, said so that the user knows what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub message: String,
    pub hint: Option<String>,
    /// The provider could not answer at all (it crashed, hung, or broke its protocol), as
    /// opposed to answering that something is wrong: a plan then fails only the resources it
    /// was asked about, instead of stopping.
    pub unavailable: bool,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError {
            message: message.into(),
            hint: None,
            unavailable: false,
        }
    }

    /// A provider that could not answer: see [`ProviderError::unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        ProviderError {
            unavailable: true,
            ..ProviderError::new(message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

//! The SDK's error type: node answers keep their typed code.

/// Everything that can go wrong in the SDK.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node refused a request: its typed error code, name and message.
    #[error("{name} ({code}): {message}")]
    Node {
        status: u16,
        code: u16,
        name: String,
        message: String,
    },
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected answer from the node: {0}")]
    Protocol(String),
    #[error("verification failed: {0}")]
    Verification(String),
    #[error("key file: {0}")]
    KeyFile(String),
    #[error("payload: {0}")]
    Payload(String),
    #[error("the state machine refused: {0}")]
    Chain(String),
}

impl Error {
    /// The typed error code when the node answered with one.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::Node { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

//! Incremental JSON input (QEMU's dialect) and QEMU-style JSON output.
//!
//! `JsonStreamer` takes a byte stream in arbitrary pieces and yields one
//! result per top-level value: tokens are collected until brackets and
//! braces balance, then parsed. Errors reset the streamer, so the next
//! message starts clean. Memory is bounded per message.

mod lexer;
mod parser;
mod writer;

use serde_json::Value;
use thiserror::Error;

pub use lexer::MAX_TOKEN_SIZE;
use lexer::{Lexer, TokenKind};
use parser::Token;
pub use writer::to_qemu_string;

/// Most tokens in one message (QEMU: 2 Mi).
pub const MAX_TOKEN_COUNT: usize = 2 << 20;
/// Deepest nesting of objects and arrays.
pub const MAX_NESTING: usize = 1024;

/// Why a message could not be read. `Display` is the text QMP replies with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JsonError {
    #[error("JSON parse error, {0}")]
    Parse(String),
    #[error("JSON parse error, stray '{0}'")]
    Stray(String),
    #[error("JSON nesting depth limit exceeded")]
    TooDeep,
    #[error("JSON token size limit exceeded")]
    TooBig,
    #[error("JSON token count limit exceeded")]
    TooManyTokens,
}

/// Limits for one message.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_size: usize,
    pub max_tokens: usize,
    pub max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_size: MAX_TOKEN_SIZE, max_tokens: MAX_TOKEN_COUNT, max_nesting: MAX_NESTING }
    }
}

struct Collector {
    limits: Limits,
    tokens: Vec<Token>,
    size: usize,
    braces: i64,
    brackets: i64,
}

impl Collector {
    fn reset(&mut self) {
        self.tokens = Vec::new();
        self.size = 0;
        self.braces = 0;
        self.brackets = 0;
    }

    fn fail(&mut self, e: JsonError) -> Option<Result<Value, JsonError>> {
        self.reset();
        Some(Err(e))
    }

    /// One token in; a finished message (or error) out.
    fn token(&mut self, kind: TokenKind, text: &[u8]) -> Option<Result<Value, JsonError>> {
        match kind {
            TokenKind::LCurly => self.braces += 1,
            TokenKind::RCurly => self.braces -= 1,
            TokenKind::LSquare => self.brackets += 1,
            TokenKind::RSquare => self.brackets -= 1,
            TokenKind::Error => return self.fail(JsonError::Stray(String::from_utf8_lossy(text).into_owned())),
            TokenKind::TooBig => return self.fail(JsonError::TooBig),
            _ => {}
        }
        if self.size + text.len() + 1 > self.limits.max_size {
            return self.fail(JsonError::TooBig);
        }
        if self.tokens.len() + 1 > self.limits.max_tokens {
            return self.fail(JsonError::TooManyTokens);
        }
        if self.braces + self.brackets > self.limits.max_nesting as i64 {
            return self.fail(JsonError::TooDeep);
        }
        self.size += text.len();
        self.tokens.push(Token { kind, text: text.to_vec() });
        if (self.braces > 0 || self.brackets > 0) && self.braces >= 0 && self.brackets >= 0 {
            return None;
        }
        let result = parser::parse(&self.tokens);
        self.reset();
        Some(result)
    }
}

/// Turns a byte stream into JSON messages.
pub struct JsonStreamer {
    lexer: Lexer,
    collector: Collector,
}

impl Default for JsonStreamer {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl JsonStreamer {
    pub fn new(limits: Limits) -> Self {
        JsonStreamer {
            lexer: Lexer::new(limits.max_size),
            collector: Collector { limits, tokens: Vec::new(), size: 0, braces: 0, brackets: 0 },
        }
    }

    /// Feeds bytes, returning every message completed by them, in order.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Result<Value, JsonError>> {
        let mut out = Vec::new();
        let collector = &mut self.collector;
        self.lexer.feed(data, &mut |kind, text| {
            if let Some(r) = collector.token(kind, text) {
                out.push(r);
            }
        });
        out
    }

    /// End of input: completes a trailing number/keyword; drops a partial
    /// message.
    pub fn finish(&mut self) -> Vec<Result<Value, JsonError>> {
        let mut out = Vec::new();
        let collector = &mut self.collector;
        self.lexer.flush(&mut |kind, text| {
            if let Some(r) = collector.token(kind, text) {
                out.push(r);
            }
        });
        self.collector.reset();
        out
    }

    /// Whether part of a message is buffered.
    pub fn is_partial(&self) -> bool {
        !self.collector.tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed_all(chunks: &[&[u8]]) -> Vec<Result<Value, JsonError>> {
        let mut s = JsonStreamer::default();
        chunks.iter().flat_map(|c| s.feed(c)).collect()
    }

    #[test]
    fn split_and_several() {
        let r = feed_all(&[b"{", b"\"a\": 1", b"}{\"b\"", b":2}{}"]);
        assert_eq!(r, [Ok(json!({"a": 1})), Ok(json!({"b": 2})), Ok(json!({}))]);
    }

    #[test]
    fn scalars_are_messages() {
        let r = feed_all(&[b"\"abc\" [] "]);
        assert_eq!(r, [Ok(json!("abc")), Ok(json!([]))]);
    }

    #[test]
    fn errors_then_recovery() {
        let r = feed_all(&[b"\x01{\"a\":1}"]);
        assert_eq!(r[0].as_ref().unwrap_err().to_string(), "JSON parse error, stray '\u{1}'");
        assert_eq!(r[1], Ok(json!({"a": 1})));

        let r = feed_all(&[b"{\"execute\": }{}"]);
        assert_eq!(r[0].as_ref().unwrap_err().to_string(), "JSON parse error, expecting value");
        assert_eq!(r[1], Ok(json!({})));

        let r = feed_all(&[b"{\"a\": \"\xff\xfe\"}"]);
        assert!(r[0].is_err());

        let r = feed_all(&[b"{\"a\": \"\xc3\x28\"} {}"]);
        assert_eq!(r[0].as_ref().unwrap_err().to_string(), "JSON parse error, invalid UTF-8 sequence in string");
        assert_eq!(r[1], Ok(json!({})));
    }

    #[test]
    fn nesting_limit() {
        let deep = "[".repeat(1025);
        let r = feed_all(&[deep.as_bytes(), b"\n{}"]);
        assert_eq!(r[0], Err(JsonError::TooDeep));
        // The rest of the brackets are read as fresh messages; eventually {} parses.
        assert_eq!(r.last().cloned(), Some(Ok(json!({}))));
        let ok = format!("{}{}", "[".repeat(1024), "]".repeat(1024));
        assert!(feed_all(&[ok.as_bytes()])[0].is_ok());
    }

    #[test]
    fn size_limit() {
        let mut s = JsonStreamer::new(Limits { max_size: 100, ..Limits::default() });
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(200));
        let r = s.feed(big.as_bytes());
        assert_eq!(r[0], Err(JsonError::TooBig));
        assert_eq!(s.feed(b"{}").last().cloned(), Some(Ok(json!({}))));
    }
}

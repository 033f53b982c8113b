//! Byte-at-a-time JSON lexer with QEMU's extensions (single-quoted strings,
//! `\'` escape). It keeps its state between `feed` calls, so a token may be
//! split across socket reads.
//!
//! After a bad byte the lexer reports the lexeme so far and then skips input
//! until a structural character (`{ } [ ]`) or a control byte, the points
//! where a client can resynchronise (what QEMU's lexer does too).

/// Kinds of tokens handed to the streamer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Colon,
    Comma,
    /// Lexeme includes the quotes.
    String,
    Integer,
    Float,
    Keyword,
    /// A byte that cannot start or continue a token; the lexeme so far.
    Error,
    /// A single token outgrew the size limit.
    TooBig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    Recovery,
    Str {
        quote: u8,
    },
    StrEscape {
        quote: u8,
    },
    /// Inside `\uXXXX`: hex digits still to read.
    StrHex {
        quote: u8,
        left: u8,
    },
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    ExpMark,
    ExpSign,
    Exp,
    Keyword,
}

/// Largest single token (QEMU: 64 MiB).
pub const MAX_TOKEN_SIZE: usize = 64 << 20;

pub struct Lexer {
    state: State,
    lexeme: Vec<u8>,
    max_token: usize,
}

impl Default for Lexer {
    fn default() -> Self {
        Self::new(MAX_TOKEN_SIZE)
    }
}

enum Step {
    /// Byte consumed, token continues.
    More,
    /// Byte consumed and it completed a token.
    Done(TokenKind),
    /// Token completed before this byte; look at the byte again from Start.
    DoneLookahead(TokenKind),
    /// Byte skipped (whitespace, recovery).
    Skip,
    /// Bad byte (already appended to the lexeme).
    Bad,
}

impl Lexer {
    pub fn new(max_token: usize) -> Self {
        Lexer { state: State::Start, lexeme: Vec::new(), max_token }
    }

    /// Back to a clean state, dropping any partial token.
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.lexeme.clear();
    }

    /// Feeds bytes; `emit` gets every completed token with its lexeme.
    pub fn feed(&mut self, data: &[u8], emit: &mut dyn FnMut(TokenKind, &[u8])) {
        for &b in data {
            self.feed_byte(b, emit);
        }
    }

    fn feed_byte(&mut self, b: u8, emit: &mut dyn FnMut(TokenKind, &[u8])) {
        loop {
            match self.step(b) {
                Step::More => {
                    if self.lexeme.len() > self.max_token {
                        emit(TokenKind::TooBig, &[]);
                        self.lexeme.clear();
                        self.state = State::Recovery;
                    }
                    return;
                }
                Step::Skip => return,
                Step::Done(kind) => {
                    emit(kind, &self.lexeme);
                    self.lexeme.clear();
                    self.state = State::Start;
                    return;
                }
                Step::DoneLookahead(kind) => {
                    emit(kind, &self.lexeme);
                    self.lexeme.clear();
                    self.state = State::Start;
                    // Re-examine b from Start.
                }
                Step::Bad => {
                    emit(TokenKind::Error, &self.lexeme);
                    self.lexeme.clear();
                    self.state = State::Recovery;
                    return;
                }
            }
        }
    }

    /// Ends the input: a pending number or keyword completes (QEMU flushes
    /// the same way at end of input); anything else is dropped.
    pub fn flush(&mut self, emit: &mut dyn FnMut(TokenKind, &[u8])) {
        let kind = match self.state {
            State::Zero | State::Int => Some(TokenKind::Integer),
            State::Frac | State::Exp => Some(TokenKind::Float),
            State::Keyword => Some(TokenKind::Keyword),
            _ => None,
        };
        if let Some(kind) = kind {
            emit(kind, &self.lexeme);
        }
        self.reset();
    }

    fn push(&mut self, b: u8, next: State) -> Step {
        self.lexeme.push(b);
        self.state = next;
        Step::More
    }

    fn bad(&mut self, b: u8) -> Step {
        self.lexeme.push(b);
        Step::Bad
    }

    fn step(&mut self, b: u8) -> Step {
        match self.state {
            State::Start => self.start(b),
            State::Recovery => match b {
                b'{' | b'}' | b'[' | b']' | 0..=0x1f | 0xfe | 0xff if b != b'\t' => {
                    self.state = State::Start;
                    self.start(b)
                }
                _ => Step::Skip,
            },
            State::Str { quote } => match b {
                b'\\' => self.push(b, State::StrEscape { quote }),
                _ if b == quote => {
                    self.lexeme.push(b);
                    Step::Done(TokenKind::String)
                }
                0x20..=0xfd => self.push(b, State::Str { quote }),
                _ => self.bad(b),
            },
            State::StrEscape { quote } => match b {
                b'"' | b'\'' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.push(b, State::Str { quote }),
                b'u' => self.push(b, State::StrHex { quote, left: 4 }),
                _ => self.bad(b),
            },
            State::StrHex { quote, left } => {
                if !b.is_ascii_hexdigit() {
                    return self.bad(b);
                }
                let next = if left == 1 { State::Str { quote } } else { State::StrHex { quote, left: left - 1 } };
                self.push(b, next)
            }
            State::Minus => match b {
                b'0' => self.push(b, State::Zero),
                b'1'..=b'9' => self.push(b, State::Int),
                _ => self.bad(b),
            },
            State::Zero => match b {
                b'.' => self.push(b, State::Dot),
                b'e' | b'E' => self.push(b, State::ExpMark),
                b'0'..=b'9' => self.bad(b),
                _ => Step::DoneLookahead(TokenKind::Integer),
            },
            State::Int => match b {
                b'0'..=b'9' => self.push(b, State::Int),
                b'.' => self.push(b, State::Dot),
                b'e' | b'E' => self.push(b, State::ExpMark),
                _ => Step::DoneLookahead(TokenKind::Integer),
            },
            State::Dot => match b {
                b'0'..=b'9' => self.push(b, State::Frac),
                _ => self.bad(b),
            },
            State::Frac => match b {
                b'0'..=b'9' => self.push(b, State::Frac),
                b'e' | b'E' => self.push(b, State::ExpMark),
                _ => Step::DoneLookahead(TokenKind::Float),
            },
            State::ExpMark => match b {
                b'+' | b'-' => self.push(b, State::ExpSign),
                b'0'..=b'9' => self.push(b, State::Exp),
                _ => self.bad(b),
            },
            State::ExpSign => match b {
                b'0'..=b'9' => self.push(b, State::Exp),
                _ => self.bad(b),
            },
            State::Exp => match b {
                b'0'..=b'9' => self.push(b, State::Exp),
                _ => Step::DoneLookahead(TokenKind::Float),
            },
            State::Keyword => match b {
                b'a'..=b'z' => self.push(b, State::Keyword),
                _ => Step::DoneLookahead(TokenKind::Keyword),
            },
        }
    }

    fn start(&mut self, b: u8) -> Step {
        let single = |kind| Step::Done(kind);
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => Step::Skip,
            b'{' => {
                self.lexeme.push(b);
                single(TokenKind::LCurly)
            }
            b'}' => {
                self.lexeme.push(b);
                single(TokenKind::RCurly)
            }
            b'[' => {
                self.lexeme.push(b);
                single(TokenKind::LSquare)
            }
            b']' => {
                self.lexeme.push(b);
                single(TokenKind::RSquare)
            }
            b':' => {
                self.lexeme.push(b);
                single(TokenKind::Colon)
            }
            b',' => {
                self.lexeme.push(b);
                single(TokenKind::Comma)
            }
            b'"' | b'\'' => self.push(b, State::Str { quote: b }),
            b'-' => self.push(b, State::Minus),
            b'0' => self.push(b, State::Zero),
            b'1'..=b'9' => self.push(b, State::Int),
            b'a'..=b'z' => self.push(b, State::Keyword),
            _ => self.bad(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(input: &[u8]) -> Vec<(TokenKind, Vec<u8>)> {
        let mut out = Vec::new();
        let mut lx = Lexer::default();
        lx.feed(input, &mut |k, l| out.push((k, l.to_vec())));
        lx.flush(&mut |k, l| out.push((k, l.to_vec())));
        out
    }

    #[test]
    fn tokens_and_lookahead() {
        let t = lex(b"{'a':-1.5e3,\"b\":[true,0]}");
        let kinds: Vec<_> = t.iter().map(|t| t.0).collect();
        use TokenKind::*;
        assert_eq!(
            kinds,
            [LCurly, String, Colon, Float, Comma, String, Colon, LSquare, Keyword, Comma, Integer, RSquare, RCurly]
        );
        assert_eq!(t[3].1, b"-1.5e3");
    }

    #[test]
    fn split_token_across_feeds() {
        let mut out = Vec::new();
        let mut lx = Lexer::default();
        lx.feed(b"\"ab", &mut |k, l| out.push((k, l.to_vec())));
        assert!(out.is_empty());
        lx.feed(b"c\"", &mut |k, l| out.push((k, l.to_vec())));
        assert_eq!(out, [(TokenKind::String, b"\"abc\"".to_vec())]);
    }

    #[test]
    fn stray_byte_then_recovery() {
        let t = lex(b"\x01 abc {");
        assert_eq!(t[0], (TokenKind::Error, vec![1]));
        // " abc " skipped in recovery until '{'.
        assert_eq!(t[1].0, TokenKind::LCurly);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn oversized_token() {
        let mut out = Vec::new();
        let mut lx = Lexer::new(8);
        lx.feed(b"\"0123456789\" {", &mut |k, _| out.push(k));
        assert_eq!(out, [TokenKind::TooBig, TokenKind::LCurly]);
    }
}

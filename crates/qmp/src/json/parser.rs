//! Builds a `serde_json::Value` from the tokens of one complete message.
//! The streamer has already bounded nesting, so recursion depth is limited.

use serde_json::{Map, Number, Value};

use super::lexer::TokenKind;
use super::JsonError;

pub struct Token {
    pub kind: TokenKind,
    pub text: Vec<u8>,
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

fn err(msg: impl Into<String>) -> JsonError {
    JsonError::Parse(msg.into())
}

/// Parses exactly one value from `tokens`.
pub fn parse(tokens: &[Token]) -> Result<Value, JsonError> {
    let mut p = Parser { tokens, pos: 0 };
    let v = p.value()?;
    if p.pos != tokens.len() {
        // QEMU's parser ignores nothing: extra tokens in one message mean a
        // malformed object (e.g. `{}}`).
        return Err(err("expecting value"));
    }
    Ok(v)
}

impl Parser<'_> {
    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn peek_kind(&self) -> Option<TokenKind> {
        self.tokens.get(self.pos).map(|t| t.kind)
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        let Some(tok) = self.next() else {
            return Err(err("premature EOI"));
        };
        match tok.kind {
            TokenKind::LCurly => self.object(),
            TokenKind::LSquare => self.array(),
            TokenKind::String => Ok(Value::String(decode_string(&tok.text)?)),
            TokenKind::Integer => Ok(integer(&tok.text)),
            TokenKind::Float => float(&tok.text),
            TokenKind::Keyword => match tok.text.as_slice() {
                b"true" => Ok(Value::Bool(true)),
                b"false" => Ok(Value::Bool(false)),
                b"null" => Ok(Value::Null),
                other => Err(err(format!("invalid keyword '{}'", String::from_utf8_lossy(other)))),
            },
            _ => Err(err("expecting value")),
        }
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        let mut map = Map::new();
        if self.peek_kind() == Some(TokenKind::RCurly) {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            let key = match self.next() {
                Some(t) if t.kind == TokenKind::String => decode_string(&t.text)?,
                Some(_) => return Err(err("key is not a string in object")),
                None => return Err(err("premature EOI")),
            };
            match self.next() {
                Some(t) if t.kind == TokenKind::Colon => {}
                Some(_) => return Err(err("missing : in object pair")),
                None => return Err(err("premature EOI")),
            }
            let value = self.value()?;
            if map.contains_key(&key) {
                return Err(err("duplicate key"));
            }
            map.insert(key, value);
            match self.next().map(|t| t.kind) {
                Some(TokenKind::Comma) => {}
                Some(TokenKind::RCurly) => return Ok(Value::Object(map)),
                Some(_) => return Err(err("expected separator in dict")),
                None => return Err(err("premature EOI")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        let mut list = Vec::new();
        if self.peek_kind() == Some(TokenKind::RSquare) {
            self.pos += 1;
            return Ok(Value::Array(list));
        }
        loop {
            list.push(self.value()?);
            match self.next().map(|t| t.kind) {
                Some(TokenKind::Comma) => {}
                Some(TokenKind::RSquare) => return Ok(Value::Array(list)),
                Some(_) => return Err(err("expected separator in list")),
                None => return Err(err("premature EOI")),
            }
        }
    }
}

/// Integers: i64 when it fits, else u64 when positive, else a double (QEMU's
/// QNum rules).
fn integer(text: &[u8]) -> Value {
    let s = std::str::from_utf8(text).unwrap_or("0");
    if let Ok(i) = s.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = s.parse::<u64>() {
        return Value::Number(u.into());
    }
    let d = s.parse::<f64>().unwrap_or(f64::INFINITY);
    Number::from_f64(d).map(Value::Number).unwrap_or(Value::Null)
}

fn float(text: &[u8]) -> Result<Value, JsonError> {
    let s = std::str::from_utf8(text).map_err(|_| err("expecting value"))?;
    let d: f64 = s.parse().map_err(|_| err("expecting value"))?;
    // Values like 1e999 overflow to infinity, which JSON cannot carry.
    Number::from_f64(d).map(Value::Number).ok_or_else(|| err("number out of range"))
}

fn hex4(s: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(s.get(..4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Decodes a string lexeme (with its quotes): escapes, then UTF-8 check.
fn decode_string(lexeme: &[u8]) -> Result<String, JsonError> {
    let body = lexeme.get(1..lexeme.len().saturating_sub(1)).unwrap_or(&[]);
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let esc = body.get(i + 1).copied().unwrap_or(0);
        i += 2;
        let c = match esc {
            b'"' => '"',
            b'\'' => '\'',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let mut cp = hex4(&body[i.min(body.len())..]).ok_or_else(|| err("invalid hex escape"))?;
                i += 4;
                if (0xd800..0xdc00).contains(&cp) {
                    // A high surrogate must be followed by \u low surrogate.
                    let low = if body.get(i) == Some(&b'\\') && body.get(i + 1) == Some(&b'u') {
                        hex4(&body[(i + 2).min(body.len())..])
                    } else {
                        None
                    };
                    match low {
                        Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                            i += 6;
                        }
                        _ => return Err(err("missing \\uXXXX for low surrogate")),
                    }
                } else if (0xdc00..0xe000).contains(&cp) {
                    return Err(err("leading low surrogate"));
                }
                if cp == 0 {
                    return Err(err("\\u0000 is not supported"));
                }
                char::from_u32(cp).ok_or_else(|| err("invalid hex escape"))?
            }
            _ => return Err(err("invalid escape sequence in string")),
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    String::from_utf8(out).map_err(|_| err("invalid UTF-8 sequence in string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(decode_string(b"'a\\'b'").unwrap(), "a'b");
        assert_eq!(decode_string(b"\"\\ud83d\\ude00\"").unwrap(), "\u{1F600}");
        assert_eq!(decode_string(b"\"\\u00e9\"").unwrap(), "\u{e9}");
        assert!(decode_string(b"\"\xc3\x28\"").is_err());
        assert!(decode_string(b"\"\\u0000\"").is_err());
        assert!(decode_string(b"\"\\ud800x\"").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(integer(b"-5"), Value::from(-5));
        assert_eq!(integer(b"18446744073709551615"), Value::from(u64::MAX));
        assert!(integer(b"18446744073709551616").is_f64());
        assert!(integer(b"-9223372036854775809").is_f64());
    }
}

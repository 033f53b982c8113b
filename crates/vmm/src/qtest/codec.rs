//! The two encodings qtest carries memory in: hex (`read`/`write`) and
//! standard base64 with padding (`b64read`/`b64write`).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    #[error("invalid hex digit '{0}'")]
    BadHex(char),
    #[error("invalid base64 character '{0}'")]
    BadBase64(char),
    #[error("invalid base64 length")]
    BadBase64Length,
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends `data` as lowercase hex, two digits a byte.
pub fn hex_encode_into(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() * 2);
    for &b in data {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

fn nibble(c: u8) -> Result<u8, CodecError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(CodecError::BadHex(char::from(c))),
    }
}

/// Decodes `size` bytes from hex `digits` (the text after "0x"). Bytes the
/// digits do not cover are zero, and a lone trailing digit is ignored: the
/// client may send less than it announces, and QEMU pads the same way.
pub fn hex_decode_padded(digits: &[u8], size: usize) -> Result<Vec<u8>, CodecError> {
    let mut data = vec![0u8; size];
    for (byte, pair) in data.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(data)
}

/// Standard base64 with '=' padding (what glib's encoder produces).
pub fn base64_encode_into(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63]);
        out.push(B64[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 { B64[(n >> 6) as usize & 63] } else { b'=' });
        out.push(if chunk.len() > 2 { B64[n as usize & 63] } else { b'=' });
    }
}

fn sextet(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes standard base64. Padding is optional; anything after the first
/// '=' must be '=' too; other characters outside the alphabet are errors.
pub fn base64_decode(text: &[u8]) -> Result<Vec<u8>, CodecError> {
    let body_len = text.iter().position(|&c| c == b'=').unwrap_or(text.len());
    let (body, padding) = text.split_at(body_len);
    if let Some(&c) = padding.iter().find(|&&c| c != b'=') {
        return Err(CodecError::BadBase64(char::from(c)));
    }
    if let Some(&c) = body.iter().find(|&&c| sextet(c).is_none()) {
        return Err(CodecError::BadBase64(char::from(c)));
    }
    if body.len() % 4 == 1 || padding.len() > 2 {
        return Err(CodecError::BadBase64Length);
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for chunk in body.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = sextet(c).ok_or(CodecError::BadBase64(char::from(c)))?;
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(data: &[u8]) -> String {
        let mut out = Vec::new();
        base64_encode_into(data, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn base64_known_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(b64(plain), enc);
            assert_eq!(base64_decode(enc.as_bytes()).unwrap(), plain);
        }
        assert_eq!(base64_decode(b"Zm9vYg").unwrap(), b"foob");
    }

    #[test]
    fn base64_round_trip_all_bytes() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        assert_eq!(base64_decode(b64(&data).as_bytes()).unwrap(), data);
    }

    #[test]
    fn base64_rejects_garbage() {
        assert_eq!(base64_decode(b"Zm9v!"), Err(CodecError::BadBase64('!')));
        assert_eq!(base64_decode(b"Zg=x"), Err(CodecError::BadBase64('x')));
        assert_eq!(base64_decode(b"Z"), Err(CodecError::BadBase64Length));
        assert_eq!(base64_decode(b"Zg==="), Err(CodecError::BadBase64Length));
    }

    #[test]
    fn hex() {
        let mut out = Vec::new();
        hex_encode_into(&[0x00, 0xab, 0x5f], &mut out);
        assert_eq!(out, b"00ab5f");
        assert_eq!(hex_decode_padded(b"00aB5F", 3).unwrap(), [0x00, 0xab, 0x5f]);
        assert_eq!(hex_decode_padded(b"12", 3).unwrap(), [0x12, 0, 0]);
        assert_eq!(hex_decode_padded(b"123", 3).unwrap(), [0x12, 0, 0]);
        assert_eq!(hex_decode_padded(b"123456", 2).unwrap(), [0x12, 0x34]);
        assert_eq!(hex_decode_padded(b"1z", 1), Err(CodecError::BadHex('z')));
    }
}

//! JSON-RPC over stdio with LSP's `Content-Length` framing. Reading never fails on
//! bad input: a message that cannot be framed or parsed is returned as an error
//! for the server to answer, and only the end of the input ends the loop.

use std::io::{self, BufRead, Read, Write};

use serde_json::Value;

/// What one read produced.
pub enum Incoming {
    /// A well-formed JSON value.
    Message(Value),
    /// A message whose body is not JSON (or whose header is broken): answered with
    /// a parse error.
    Malformed(String),
    /// The input ended.
    Eof,
}

/// Bodies larger than this are skipped (read and dropped), not parsed.
const MAX_BODY: usize = 256 << 20;

/// Reads one message.
pub fn read(r: &mut impl BufRead) -> io::Result<Incoming> {
    let mut length: Option<usize> = None;
    let mut bad_header = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(Incoming::Eof);
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if saw_header {
                break;
            }
            // Blank lines between messages are tolerated.
            continue;
        }
        saw_header = true;
        match line.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(n) => length = Some(n),
                    Err(_) => bad_header = Some(format!("bad Content-Length: {}", value.trim())),
                }
            }
            Some(_) => {}
            None => bad_header = Some(format!("malformed header line: {line:?}")),
        }
    }
    let Some(n) = length else {
        return Ok(Incoming::Malformed(
            bad_header.unwrap_or_else(|| "missing Content-Length header".into()),
        ));
    };
    if n > MAX_BODY {
        io::copy(&mut r.take(n as u64), &mut io::sink())?;
        return Ok(Incoming::Malformed(format!(
            "message of {n} bytes is too large"
        )));
    }
    let mut body = vec![0u8; n];
    if let Err(e) = r.read_exact(&mut body) {
        return if e.kind() == io::ErrorKind::UnexpectedEof {
            Ok(Incoming::Eof)
        } else {
            Err(e)
        };
    }
    if let Some(h) = bad_header {
        return Ok(Incoming::Malformed(h));
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) => Ok(Incoming::Message(v)),
        Err(e) => Ok(Incoming::Malformed(format!("invalid JSON: {e}"))),
    }
}

/// Writes one message.
pub fn write(w: &mut impl Write, msg: &Value) -> io::Result<()> {
    let body = msg.to_string();
    write!(w, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_errors() {
        let input = b"Content-Length: 2\r\n\r\n{}Content-Length: 3\r\n\r\n{x}\r\nbogus\r\n\r\nContent-Length: 4\r\n\r\nnull";
        let mut r = io::Cursor::new(&input[..]);
        assert!(matches!(read(&mut r), Ok(Incoming::Message(v)) if v == serde_json::json!({})));
        assert!(matches!(read(&mut r), Ok(Incoming::Malformed(m)) if m.contains("invalid JSON")));
        assert!(
            matches!(read(&mut r), Ok(Incoming::Malformed(m)) if m.contains("malformed header"))
        );
        assert!(matches!(read(&mut r), Ok(Incoming::Message(Value::Null))));
        assert!(matches!(read(&mut r), Ok(Incoming::Eof)));
        let mut out = Vec::new();
        assert!(write(&mut out, &serde_json::json!({"a": 1})).is_ok());
        assert_eq!(out, b"Content-Length: 7\r\n\r\n{\"a\":1}");
    }
}

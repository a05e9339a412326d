//! Follows a request head as it streams past, without keeping it: where it ends, whether it
//! grew too large, whether it is HTTP/2's cleartext preface, and how its body is framed.

use std::io;

/// The longest request head accepted: nginx's default buffers hold 4 × 8 KiB.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// The request line an HTTP/2 client opens a cleartext ("prior knowledge") connection with.
const H2_REQUEST_LINE: &[u8] = b"PRI * HTTP/2.0";

/// Bytes kept of each head line: a `Content-Length` or `Transfer-Encoding` line this long
/// is already odd; a longer one leaves the framing [`Framing::Unknown`].
const LINE_KEPT: usize = 64;

/// How the body after a head ends, as hyper reads it (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`.
    None,
    Length(u64),
    Chunked,
    /// Framing hyper refuses (conflicting lengths, a coding other than chunked last) or
    /// that did not fit [`LINE_KEPT`]: the server answers soon, and until it does the body
    /// deadline holds.
    Unknown,
}

/// What `Content-Length` and `Transfer-Encoding` lines said so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Nothing,
    Length(u64),
    /// `Transfer-Encoding` was given; `true` when its last coding is `chunked`. It wins
    /// over any `Content-Length`, as in hyper.
    Coded {
        chunked: bool,
    },
    Unknown,
}

/// A request head read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadScan {
    /// Bytes of this head read so far.
    seen: usize,
    /// The first [`LINE_KEPT`] bytes of the current line, and its whole length.
    line: [u8; LINE_KEPT],
    line_len: usize,
    /// The request line is behind; empty lines before it are skipped (as httparse does).
    past_request_line: bool,
    declared: Declared,
}

impl Default for HeadScan {
    fn default() -> Self {
        HeadScan {
            seen: 0,
            line: [0; LINE_KEPT],
            line_len: 0,
            past_request_line: false,
            declared: Declared::Nothing,
        }
    }
}

impl HeadScan {
    /// Reads `bytes`; once the head ends, how many of them it took and how its body is
    /// framed. Errs on a head over [`MAX_HEAD_BYTES`] and on HTTP/2's preface.
    pub fn feed(&mut self, bytes: &[u8]) -> io::Result<Option<(usize, Framing)>> {
        for (at, &byte) in bytes.iter().enumerate() {
            if self.seen + at >= MAX_HEAD_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request head too large",
                ));
            }
            if byte != b'\n' {
                if self.line_len < LINE_KEPT {
                    self.line[self.line_len] = byte;
                }
                self.line_len += 1;
                if !self.past_request_line && self.kept() == H2_REQUEST_LINE {
                    // Served, it would be HTTP/2 with no head deadline, no head size
                    // limit and no body deadline; nothing here speaks it (README.md,
                    // "Limits").
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "HTTP/2 without TLS is not served",
                    ));
                }
                continue;
            }
            let line = self.kept().strip_suffix(b"\r").unwrap_or(self.kept());
            let empty = line.is_empty() && self.line_len <= 1;
            if empty && self.past_request_line {
                self.seen += at + 1;
                return Ok(Some((at + 1, self.framing())));
            }
            if !empty {
                if self.past_request_line {
                    self.header_line();
                }
                self.past_request_line = true;
            }
            self.line_len = 0;
        }
        self.seen += bytes.len();
        Ok(None)
    }

    fn kept(&self) -> &[u8] {
        &self.line[..self.line_len.min(LINE_KEPT)]
    }

    /// Notes a `Content-Length` or `Transfer-Encoding` line (the current line, without
    /// its end).
    fn header_line(&mut self) {
        let kept = self.kept();
        let truncated = self.line_len > LINE_KEPT;
        let Some(colon) = kept.iter().position(|&b| b == b':') else {
            return;
        };
        let name = &kept[..colon];
        // `trim_ascii` takes the line's `\r` too.
        let value = kept[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or(b"")
                .trim_ascii();
            self.declared = if truncated {
                Declared::Unknown
            } else {
                Declared::Coded {
                    chunked: last.eq_ignore_ascii_case(b"chunked"),
                }
            };
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let length = std::str::from_utf8(value)
                .ok()
                .filter(|v| !truncated && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok());
            self.declared = match (self.declared, length) {
                (Declared::Coded { .. } | Declared::Unknown, _) => self.declared,
                (_, None) => Declared::Unknown,
                (Declared::Nothing, Some(n)) => Declared::Length(n),
                (Declared::Length(m), Some(n)) if m == n => Declared::Length(n),
                (Declared::Length(_), Some(_)) => Declared::Unknown,
            };
        }
    }

    fn framing(&self) -> Framing {
        match self.declared {
            Declared::Nothing | Declared::Length(0) => Framing::None,
            Declared::Length(n) => Framing::Length(n),
            Declared::Coded { chunked: true } => Framing::Chunked,
            Declared::Coded { chunked: false } | Declared::Unknown => Framing::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole of `head` in one read: where it ended and its framing.
    fn scan(head: &[u8]) -> io::Result<Option<(usize, Framing)>> {
        HeadScan::default().feed(head)
    }

    #[test]
    fn the_head_ends_at_the_first_empty_line_and_says_how_the_body_ends() {
        let cases: &[(&[u8], Framing)] = &[
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Framing::None),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n",
                Framing::Length(12),
            ),
            (
                b"POST / HTTP/1.1\r\ncontent-length:0\r\n\r\n",
                Framing::None,
            ),
            (
                b"POST / HTTP/1.1\nContent-Length: 3\n\n",
                Framing::Length(3),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Framing::Chunked,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, CHUNKED\r\nContent-Length: 4\r\n\r\n",
                Framing::Chunked,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                Framing::Unknown,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
                Framing::Unknown,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n",
                Framing::Length(4),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: -4\r\n\r\n",
                Framing::Unknown,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                Framing::Unknown,
            ),
        ];
        for &(head, framing) in cases {
            let mut with_body = head.to_vec();
            with_body.extend_from_slice(b"body");
            assert_eq!(
                scan(&with_body).expect("a head"),
                Some((head.len(), framing)),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn empty_lines_before_the_request_line_do_not_end_it() {
        let head = b"\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(
            scan(head).expect("a head"),
            Some((head.len(), Framing::None))
        );
    }

    #[test]
    fn a_head_split_anywhere_ends_at_its_last_byte() {
        let head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n";
        for a in 0..head.len() {
            for b in a..head.len() {
                let mut scan = HeadScan::default();
                for part in [&head[..a], &head[a..b], &head[b..head.len() - 1]] {
                    assert_eq!(scan.feed(part).expect("fits"), None, "{a} {b}");
                }
                assert_eq!(
                    scan.feed(&head[head.len() - 1..]).expect("fits"),
                    Some((1, Framing::Length(7))),
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn the_http2_preface_is_refused_however_it_arrives() {
        let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        let err = scan(preface).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut scan = HeadScan::default();
        let refused = preface.iter().position(|b| scan.feed(&[*b]).is_err());
        assert_eq!(
            refused,
            Some(H2_REQUEST_LINE.len() - 1),
            "at its request line"
        );
        // An HTTP/1 method that merely starts alike is left to hyper.
        assert!(matches!(
            self::scan(b"PRIX / HTTP/1.1\r\n\r\n"),
            Ok(Some(_))
        ));
    }

    #[test]
    fn an_oversized_head_is_refused_even_in_one_read() {
        let mut head = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES));
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            scan(&head).expect_err("too large").kind(),
            io::ErrorKind::InvalidData
        );
        let mut head = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 16 * 1024));
        head.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(scan(&head), Ok(Some(_))));
    }
}

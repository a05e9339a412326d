//! Follows a request body as it streams past, to tell when it is all in: a length counted
//! down, or chunks read the way hyper's decoder reads them.

use super::head::Framing;

/// A request body read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyScan {
    /// Bytes still to come.
    Length(u64),
    Chunked(Chunk),
    /// Framing hyper refuses or we could not follow: never complete here; the server's
    /// answer ends the request.
    Unknown,
}

/// Where a chunked body is: hyper's `ChunkedState`, without keeping trailers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Before a chunk size's first hex digit.
    Start,
    Size(u64),
    /// Blanks after a size: no more digits.
    SizeBlank(u64),
    /// A `;extension`, ignored up to its `\r`.
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    EndCr,
    EndLf,
    Trailer,
    TrailerLf,
}

impl BodyScan {
    /// The body a head announced; `None` when there is none.
    pub fn new(framing: Framing) -> Option<BodyScan> {
        match framing {
            Framing::None => None,
            Framing::Length(n) => Some(BodyScan::Length(n)),
            Framing::Chunked => Some(BodyScan::Chunked(Chunk::Start)),
            Framing::Unknown => Some(BodyScan::Unknown),
        }
    }

    /// Reads `bytes`; `true` once the body is complete (bytes after it belong to a
    /// pipelined request and are not looked at).
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        match self {
            BodyScan::Length(left) => {
                *left = left.saturating_sub(bytes.len() as u64);
                *left == 0
            }
            BodyScan::Chunked(state) => {
                let mut rest = bytes;
                while let Some((&byte, after)) = rest.split_first() {
                    if let Chunk::Data(left) = *state {
                        // Skip the chunk's data in one step, not byte by byte.
                        let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                        *state = match left - take as u64 {
                            0 => Chunk::DataCr,
                            left => Chunk::Data(left),
                        };
                        rest = &rest[take..];
                        continue;
                    }
                    match state.next(byte) {
                        Some(None) => return true,
                        Some(Some(next)) => *state = next,
                        None => {
                            *self = BodyScan::Unknown;
                            return false;
                        }
                    }
                    rest = after;
                }
                false
            }
            BodyScan::Unknown => false,
        }
    }
}

impl Chunk {
    /// The state after `byte`: `Some(None)` at the body's end, `None` where hyper would
    /// refuse the body.
    fn next(self, byte: u8) -> Option<Option<Chunk>> {
        let digit = char::from(byte).to_digit(16).map(u64::from);
        let next = match (self, byte) {
            (Chunk::Start, _) => Chunk::Size(digit?),
            (Chunk::Size(n), _) if digit.is_some() => {
                Chunk::Size(n.checked_mul(16)?.checked_add(digit?)?)
            }
            (Chunk::Size(n) | Chunk::SizeBlank(n), b' ' | b'\t') => Chunk::SizeBlank(n),
            (Chunk::Size(n) | Chunk::SizeBlank(n), b';') => Chunk::Extension(n),
            (Chunk::Size(n) | Chunk::SizeBlank(n) | Chunk::Extension(n), b'\r') => Chunk::SizeLf(n),
            (Chunk::Extension(_), b'\n') => return None,
            (Chunk::Extension(n), _) => Chunk::Extension(n),
            (Chunk::SizeLf(0), b'\n') => Chunk::EndCr,
            (Chunk::SizeLf(n), b'\n') => Chunk::Data(n),
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataLf, b'\n') => Chunk::Start,
            (Chunk::EndCr, b'\r') => Chunk::EndLf,
            (Chunk::EndLf, b'\n') => return Some(None),
            (Chunk::Trailer, b'\r') => Chunk::TrailerLf,
            (Chunk::EndCr | Chunk::Trailer, _) => Chunk::Trailer,
            (Chunk::TrailerLf, b'\n') => Chunk::EndCr,
            _ => return None,
        };
        Some(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked() -> BodyScan {
        BodyScan::new(Framing::Chunked).expect("a body")
    }

    #[test]
    fn a_length_is_counted_down() {
        assert_eq!(BodyScan::new(Framing::None), None);
        let mut body = BodyScan::new(Framing::Length(5)).expect("a body");
        assert!(!body.feed(b"ab"));
        assert!(!body.feed(b""));
        assert!(body.feed(b"cde and a pipelined request"));
    }

    #[test]
    fn a_chunked_body_ends_after_its_last_chunk_and_trailers_in_any_split() {
        let bodies: &[&[u8]] = &[
            b"0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
            b"5;name=value\r\nhello\r\n1A \t\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
            b"3\r\n\r\n\r\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n",
        ];
        for &body in bodies {
            for cut in 0..body.len() {
                let mut scan = chunked();
                assert!(!scan.feed(&body[..cut]), "{cut}");
                assert!(
                    !scan.feed(&body[cut..body.len() - 1]),
                    "{cut}: {}",
                    String::from_utf8_lossy(body)
                );
                assert!(scan.feed(&body[body.len() - 1..]), "{cut}");
            }
            // Byte by byte, too.
            let mut scan = chunked();
            let done: Vec<bool> = body.iter().map(|b| scan.feed(&[*b])).collect();
            assert_eq!(done.iter().position(|d| *d), Some(body.len() - 1));
        }
    }

    #[test]
    fn a_chunked_body_hyper_refuses_is_never_complete_here() {
        for body in [
            &b"x\r\n"[..],
            b"5\nhello\r\n0\r\n\r\n",
            b"5;a\nhello",
            b"2\r\nabX\r\n0\r\n\r\n",
            b"11111111111111111\r\n",
        ] {
            let mut scan = chunked();
            assert!(!scan.feed(body));
            assert_eq!(scan, BodyScan::Unknown, "{}", String::from_utf8_lossy(body));
            assert!(!scan.feed(b"0\r\n\r\n"));
        }
    }
}

//! The part of HPACK (RFC 7541) that the `:authority` fix needs: a [`Decoder`] that follows the
//! client's dynamic table across the header blocks of one connection, and [`encode_literal`],
//! which writes a field as a literal without indexing (raw strings), so that re-encoded blocks
//! never add to the server's dynamic table.
//!
//! Everything read is bounded: integers, indexes, table size updates (at most
//! [`TABLE_SIZE`], what the server advertises) and the decoded list (a limit per block).
//! Malformed input is an [`HpackError`], never a panic.

use std::borrow::Cow;
use std::collections::VecDeque;

use super::huffman::{self, HuffmanError};

/// The dynamic table size the server allows the client's encoder: h2's default
/// SETTINGS_HEADER_TABLE_SIZE, which the API server does not change. A client may lower it
/// with a size update, never raise it above this.
pub const TABLE_SIZE: usize = 4096;

/// What each field adds to a table or header list besides its octets (RFC 7541 §4.1).
const ENTRY_OVERHEAD: usize = 32;

/// Why a header block could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HpackError {
    /// The block ends in the middle of a field.
    #[error("a header block ends in the middle of a field")]
    Truncated,
    /// An integer is longer than any valid one.
    #[error("a header block holds an integer that is too large")]
    IntegerTooLarge,
    /// A field refers to an index that neither table has.
    #[error("a header block refers to table index {0}, which does not exist")]
    BadIndex(usize),
    /// A dynamic table size update asks for more than the server allows.
    #[error("a header block asks for a {0}-byte dynamic table; at most {TABLE_SIZE} is allowed")]
    TableTooLarge(usize),
    /// A Huffman-coded string is invalid.
    #[error(transparent)]
    Huffman(#[from] HuffmanError),
    /// The decoded header list is larger than the limit.
    #[error("a header list is larger than {0} bytes")]
    ListTooLarge(usize),
}

/// A name and value, borrowed from the block or the table where possible.
type NameValue<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// One decoded field, as the decoder hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name.
    pub name: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Sent as "never indexed" (RFC 7541 §6.2.3): whoever re-encodes it must keep that.
    pub never_indexed: bool,
}

/// Decodes the header blocks of one connection, in order, keeping the dynamic table in step
/// with the client's encoder.
#[derive(Debug)]
pub struct Decoder {
    /// Newest entry first (index 62 is the front).
    table: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// Sum of the entries' sizes (octets + [`ENTRY_OVERHEAD`] each).
    size: usize,
    max_size: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            table: VecDeque::new(),
            size: 0,
            max_size: TABLE_SIZE,
        }
    }
}

impl Decoder {
    /// Decodes `block`, calling `emit` with each field in order, and stops with
    /// [`HpackError::ListTooLarge`] once the list passes `max_list` bytes.
    ///
    /// # Errors
    /// [`HpackError`] when the block is malformed or too large; the table is then unusable,
    /// as the connection must close.
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list: usize,
        mut emit: impl FnMut(Field<'_>),
    ) -> Result<(), HpackError> {
        let mut at = 0;
        let mut list = 0usize;
        while let Some(&first) = block.get(at) {
            let field = if first & 0x80 != 0 {
                let index = integer(block, &mut at, 7)?;
                let (name, value) = self.entry(index)?;
                Some((Cow::Borrowed(name), Cow::Borrowed(value), false))
            } else if first & 0x40 != 0 {
                let (name, value) = self.literal(block, &mut at, 6)?;
                let (name, value) = (name.into_owned(), value.into_owned());
                self.insert(name.clone(), value.clone());
                Some((Cow::Owned(name), Cow::Owned(value), false))
            } else if first & 0x20 != 0 {
                self.resize(integer(block, &mut at, 5)?)?;
                None
            } else {
                let (name, value) = self.literal(block, &mut at, 4)?;
                Some((name, value, first & 0x10 != 0))
            };
            let Some((name, value, never_indexed)) = field else {
                continue;
            };
            list += name.len() + value.len() + ENTRY_OVERHEAD;
            if list > max_list {
                return Err(HpackError::ListTooLarge(max_list));
            }
            emit(Field {
                name: &name,
                value: &value,
                never_indexed,
            });
        }
        Ok(())
    }

    /// The field at `index` of the static table followed by the dynamic one (1-based).
    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        if let Some(&(name, value)) = index.checked_sub(1).and_then(|i| STATIC.get(i)) {
            return Ok((name.as_bytes(), value.as_bytes()));
        }
        index
            .checked_sub(STATIC.len() + 1)
            .and_then(|i| self.table.get(i))
            .map(|(name, value)| (name.as_slice(), value.as_slice()))
            .ok_or(HpackError::BadIndex(index))
    }

    /// A literal field whose name index has `prefix` bits.
    fn literal<'a>(
        &'a self,
        block: &'a [u8],
        at: &mut usize,
        prefix: u8,
    ) -> Result<NameValue<'a>, HpackError> {
        let name = match integer(block, at, prefix)? {
            0 => string(block, at)?,
            index => Cow::Borrowed(self.entry(index)?.0),
        };
        Ok((name, string(block, at)?))
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        self.size += name.len() + value.len() + ENTRY_OVERHEAD;
        self.table.push_front((name, value));
        // An entry larger than the whole table empties it and is not kept (RFC 7541 §4.4).
        self.evict();
    }

    fn resize(&mut self, size: usize) -> Result<(), HpackError> {
        if size > TABLE_SIZE {
            return Err(HpackError::TableTooLarge(size));
        }
        self.max_size = size;
        self.evict();
        Ok(())
    }

    fn evict(&mut self) {
        while self.size > self.max_size {
            let Some((name, value)) = self.table.pop_back() else {
                self.size = 0;
                return;
            };
            self.size -= name.len() + value.len() + ENTRY_OVERHEAD;
        }
    }
}

/// Reads an integer with a `prefix`-bit prefix at `*at` (RFC 7541 §5.1).
fn integer(block: &[u8], at: &mut usize, prefix: u8) -> Result<usize, HpackError> {
    let mask = (1u8 << prefix) - 1;
    let first = *block.get(*at).ok_or(HpackError::Truncated)?;
    *at += 1;
    let mut value = usize::from(first & mask);
    if value < usize::from(mask) {
        return Ok(value);
    }
    // Four continuation octets reach 2^28, beyond any size or index a peer may use.
    for shift in (0..=21).step_by(7) {
        let octet = *block.get(*at).ok_or(HpackError::Truncated)?;
        *at += 1;
        value += usize::from(octet & 0x7f) << shift;
        if octet & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(HpackError::IntegerTooLarge)
}

/// Reads a string literal at `*at` (RFC 7541 §5.2), Huffman-decoding it if it is coded.
fn string<'a>(block: &'a [u8], at: &mut usize) -> Result<Cow<'a, [u8]>, HpackError> {
    let huffman = block.get(*at).is_some_and(|b| b & 0x80 != 0);
    let len = integer(block, at, 7)?;
    let end = at.checked_add(len).ok_or(HpackError::Truncated)?;
    let raw = block.get(*at..end).ok_or(HpackError::Truncated)?;
    *at = end;
    if !huffman {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len() * 8 / 5);
    huffman::decode(raw, &mut out)?;
    Ok(Cow::Owned(out))
}

/// Appends `field` as a literal without indexing, or never indexed if it was sent so, with
/// a literal name and raw (not Huffman-coded) strings.
pub fn encode_literal(field: Field<'_>, out: &mut Vec<u8>) {
    out.push(if field.never_indexed { 0x10 } else { 0x00 });
    for s in [field.name, field.value] {
        encode_integer(s.len(), 7, 0x00, out);
        out.extend_from_slice(s);
    }
}

/// Appends `value` with a `prefix`-bit prefix, the other bits of the first octet set to
/// `flags` (RFC 7541 §5.1).
fn encode_integer(value: usize, prefix: u8, flags: u8, out: &mut Vec<u8>) {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// The static table (RFC 7541 Appendix A), index 1 first.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(d: &mut Decoder, block: &[u8]) -> Result<Vec<(String, String)>, HpackError> {
        let mut out = Vec::new();
        d.decode(block, 64 * 1024, |f| {
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            out.push((s(f.name), s(f.value)));
        })?;
        Ok(out)
    }

    fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn follows_the_dynamic_table_across_blocks_rfc_7541_c4() {
        let mut d = Decoder::default();
        let first = [
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ];
        let base = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ];
        assert_eq!(decode_all(&mut d, &first), Ok(pairs(&base)));
        // 0xbe is index 62: the `:authority` the first block added.
        let second = [
            0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
        ];
        let mut want = base.to_vec();
        want.push(("cache-control", "no-cache"));
        assert_eq!(decode_all(&mut d, &second), Ok(pairs(&want)));
        let third = [
            0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f,
            0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
        ];
        let want = [
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ];
        assert_eq!(decode_all(&mut d, &third), Ok(pairs(&want)));
        assert_eq!(d.size, 164);
    }

    #[test]
    fn evicts_the_oldest_entries_and_honours_size_updates() {
        let mut d = Decoder::default();
        let mut block = Vec::new();
        for value in ["a", "b"] {
            block.push(0x40);
            for s in ["x-k", value] {
                encode_integer(s.len(), 7, 0, &mut block);
                block.extend_from_slice(s.as_bytes());
            }
        }
        decode_all(&mut d, &block).expect("two indexed literals");
        // Newest first: 62 is x-k: b, 63 is x-k: a.
        assert_eq!(decode_all(&mut d, &[0xbf]), Ok(pairs(&[("x-k", "a")])));
        // A size update to 36 (one entry of 3 + 1 + 32) keeps only the newest.
        let mut shrink = Vec::new();
        encode_integer(36, 5, 0x20, &mut shrink);
        shrink.push(0xbe);
        assert_eq!(decode_all(&mut d, &shrink), Ok(pairs(&[("x-k", "b")])));
        assert_eq!(decode_all(&mut d, &[0xbf]), Err(HpackError::BadIndex(63)));
    }

    #[test]
    fn malformed_blocks_are_errors() {
        let mut d = Decoder::default();
        assert_eq!(decode_all(&mut d, &[0x80]), Err(HpackError::BadIndex(0)));
        assert_eq!(decode_all(&mut d, &[0xff]), Err(HpackError::Truncated));
        assert_eq!(
            decode_all(&mut d, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(HpackError::IntegerTooLarge)
        );
        // A literal whose value claims 10 octets but has 2.
        assert_eq!(
            decode_all(&mut d, &[0x04, 0x0a, b'/', b'x']),
            Err(HpackError::Truncated)
        );
        let mut grow = Vec::new();
        encode_integer(TABLE_SIZE + 1, 5, 0x20, &mut grow);
        assert_eq!(
            decode_all(&mut d, &grow),
            Err(HpackError::TableTooLarge(TABLE_SIZE + 1))
        );
        // EOS inside a Huffman-coded value.
        assert_eq!(
            decode_all(
                &mut Decoder::default(),
                &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]
            ),
            Err(HpackError::Huffman(HuffmanError::Eos))
        );
    }

    #[test]
    fn the_list_limit_stops_an_expanding_block() {
        let mut d = Decoder::default();
        let mut block = vec![0x40, 0x03, b'x', b'-', b'k'];
        encode_integer(3000, 7, 0, &mut block);
        block.extend(std::iter::repeat_n(b'v', 3000));
        // Then the 3 KB entry referred to 100 times with one octet each.
        block.extend(std::iter::repeat_n(0xbe, 100));
        let mut seen = 0;
        let got = d.decode(&block, 64 * 1024, |_| seen += 1);
        assert_eq!(got, Err(HpackError::ListTooLarge(64 * 1024)));
        assert!(seen < 30, "stopped early, after {seen} fields");
    }

    #[test]
    fn encoded_literals_decode_to_the_same_fields_and_add_no_entries() {
        let fields = [
            Field {
                name: b":authority",
                value: b"localhost",
                never_indexed: false,
            },
            Field {
                name: b"authorization",
                value: &[b't'; 300],
                never_indexed: true,
            },
        ];
        let mut block = Vec::new();
        for f in fields {
            encode_literal(f, &mut block);
        }
        let mut d = Decoder::default();
        let mut got = Vec::new();
        d.decode(&block, 64 * 1024, |f| {
            got.push((f.name.to_vec(), f.value.to_vec(), f.never_indexed));
        })
        .expect("decodes");
        let want: Vec<_> = fields
            .iter()
            .map(|f| (f.name.to_vec(), f.value.to_vec(), f.never_indexed))
            .collect();
        assert_eq!(got, want);
        assert!(d.table.is_empty());
    }
}

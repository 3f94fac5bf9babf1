//! HPACK's Huffman code (RFC 7541 §5.2 and Appendix B), decoding only: the `:authority` fix
//! re-encodes header blocks with raw strings, so it never needs to produce Huffman output.
//!
//! The code is canonical (codes of one length are consecutive, in symbol order, and shorter
//! codes come first), so the 257 code lengths are the whole table: [`CODE`] derives, at compile
//! time, the first code, the count and the symbols of each length, and decoding is a few integer
//! operations per input bit, with no allocation but the output.

/// Code length in bits of each symbol (the 256 octets, then EOS), from RFC 7541 Appendix B.
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// The end-of-string symbol: it must never be decoded (RFC 7541 §5.2).
const EOS: u16 = 256;

/// The longest code (bits).
const MAX_LEN: usize = 30;

/// Why a Huffman-coded string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HuffmanError {
    /// The string holds the EOS symbol.
    #[error("a Huffman-coded string contains the EOS symbol")]
    Eos,
    /// The string does not end with up to 7 one-bits (the EOS prefix).
    #[error("a Huffman-coded string has invalid padding")]
    Padding,
}

/// The canonical code, by length.
struct Canonical {
    /// The first code of each length.
    first: [u32; MAX_LEN + 1],
    /// How many codes each length has.
    count: [u32; MAX_LEN + 1],
    /// Where each length's symbols start in `symbols`.
    offset: [usize; MAX_LEN + 1],
    /// The symbols ordered by (code length, symbol).
    symbols: [u16; 257],
}

const CODE: Canonical = Canonical::build();

impl Canonical {
    const fn build() -> Self {
        let mut count = [0u32; MAX_LEN + 1];
        let mut s = 0;
        while s < LENGTHS.len() {
            count[LENGTHS[s] as usize] += 1;
            s += 1;
        }
        let (mut first, mut offset) = ([0u32; MAX_LEN + 1], [0usize; MAX_LEN + 1]);
        let (mut code, mut index, mut len) = (0u32, 0usize, 1);
        while len <= MAX_LEN {
            first[len] = code;
            offset[len] = index;
            code = (code + count[len]) << 1;
            index += count[len] as usize;
            len += 1;
        }
        let mut next = offset;
        let mut symbols = [0u16; 257];
        let mut s = 0;
        while s < LENGTHS.len() {
            let len = LENGTHS[s] as usize;
            symbols[next[len]] = s as u16;
            next[len] += 1;
            s += 1;
        }
        Self {
            first,
            count,
            offset,
            symbols,
        }
    }
}

/// Decodes the Huffman-coded `input`, appending the octets to `out`.
///
/// # Errors
/// [`HuffmanError`] when `input` holds EOS or is badly padded.
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in input {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            // Shorter codes are numerically smaller, so `code` is never below `first[len]`
            // while it is still the prefix of a code of this length or longer.
            let rel = code.wrapping_sub(CODE.first[len]);
            if rel < CODE.count[len] {
                let symbol = CODE.symbols[CODE.offset[len] + rel as usize];
                if symbol == EOS {
                    return Err(HuffmanError::Eos);
                }
                out.push(symbol as u8);
                (code, len) = (0, 0);
            } else if len == MAX_LEN {
                // Unreachable with a complete code (every 30-bit string starts with a code);
                // kept so that no input can index past the tables.
                return Err(HuffmanError::Padding);
            }
        }
    }
    // Padding: the most significant bits of EOS (all ones), shorter than an octet.
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(HuffmanError::Padding);
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn decoded(input: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(input, &mut out).map(|()| out)
    }

    /// Encodes with the same canonical table (tests only: the fix never Huffman-encodes).
    pub(in crate::api::uds_authority) fn encode(input: &[u8]) -> Vec<u8> {
        let (mut acc, mut bits, mut out) = (0u64, 0u32, Vec::new());
        for &octet in input {
            let len = LENGTHS[usize::from(octet)] as usize;
            let index = CODE.symbols[CODE.offset[len]..]
                .iter()
                .position(|&s| s == u16::from(octet))
                .expect("symbol in its length's run");
            acc = (acc << len) | u64::from(CODE.first[len] + index as u32);
            bits += len as u32;
            while bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        if bits > 0 {
            let pad = 8 - bits;
            out.push((((acc << pad) | ((1 << pad) - 1)) & 0xff) as u8);
        }
        out
    }

    #[test]
    fn the_lengths_make_a_complete_prefix_code() {
        // Kraft's sum is exactly 1 for a complete code: a wrong length breaks it.
        let sum: u64 = LENGTHS
            .iter()
            .map(|&l| 1u64 << (MAX_LEN - l as usize))
            .sum();
        assert_eq!(sum, 1u64 << MAX_LEN);
        assert_eq!(CODE.symbols[CODE.offset[MAX_LEN] + 3], EOS);
    }

    #[test]
    fn decodes_the_rfc_7541_examples() {
        let cases: [(&[u8], &[u8]); 6] = [
            (
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
                b"www.example.com",
            ),
            (&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf], b"no-cache"),
            (
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f],
                b"custom-key",
            ),
            (
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf],
                b"custom-value",
            ),
            (&[0x64, 0x02], b"302"),
            (&[0xae, 0xc3, 0x77, 0x1a, 0x4b], b"private"),
        ];
        for (input, want) in cases {
            assert_eq!(decoded(input).as_deref(), Ok(want));
        }
    }

    #[test]
    fn every_octet_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decoded(&encode(&all)), Ok(all));
        assert_eq!(decoded(&[]), Ok(Vec::new()));
    }

    #[test]
    fn rejects_eos_and_bad_padding() {
        // EOS is 30 one-bits: four 0xff octets hold it.
        assert_eq!(decoded(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
        // 'a' is 00011 (5 bits): padding with zeros instead of ones.
        assert_eq!(decoded(&[0b0001_1000]), Err(HuffmanError::Padding));
        // A whole octet of padding is too long.
        assert_eq!(decoded(&[0b0001_1111, 0xff]), Err(HuffmanError::Padding));
        assert_eq!(decoded(&[0b0001_1111]), Ok(b"a".to_vec()));
    }
}

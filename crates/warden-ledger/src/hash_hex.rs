//! Lower-case hex for 32-byte hashes without allocating: verification formats and parses two million of
//! them per million entries, where the `hex` crate's iterator-based codec dominated the profile.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `hash` as 64 lower-case hex digits.
pub fn encode(hash: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, byte) in hash.iter().enumerate() {
        out[2 * i] = DIGITS[(byte >> 4) as usize];
        out[2 * i + 1] = DIGITS[(byte & 0x0f) as usize];
    }
    out
}

/// `hash` as a 64-digit lower-case hex string.
pub fn encode_str(hash: &[u8; 32]) -> String {
    // The digits are ASCII.
    encode(hash).iter().map(|&b| b as char).collect()
}

/// Each byte's value as a hex digit, or 0xff.
const NIBBLES: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// 64 hex digits (either case) as 32 bytes; `None` for any other input.
pub fn decode(digits: &[u8]) -> Option<[u8; 32]> {
    let digits: &[u8; 64] = digits.try_into().ok()?;
    let mut out = [0u8; 32];
    // Invalid digits are 0xff: or-ing every nibble shows any of them once, after the loop.
    let mut seen = 0u8;
    for (i, byte) in out.iter_mut().enumerate() {
        let (high, low) = (NIBBLES[digits[2 * i] as usize], NIBBLES[digits[2 * i + 1] as usize]);
        seen |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    (seen & 0xf0 == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_hex_crate_both_ways() {
        let mut hash = [0u8; 32];
        for round in 0..64u8 {
            for (i, b) in hash.iter_mut().enumerate() {
                *b = round.wrapping_mul(37).wrapping_add((i as u8).wrapping_mul(11));
            }
            let text = hex::encode(hash);
            assert_eq!(encode_str(&hash), text);
            assert_eq!(&encode(&hash)[..], text.as_bytes());
            assert_eq!(decode(text.as_bytes()), Some(hash));
            assert_eq!(decode(text.to_uppercase().as_bytes()), Some(hash));
        }
    }

    #[test]
    fn refuses_what_is_not_64_hex_digits() {
        let good = "ab".repeat(32);
        assert!(decode(good.as_bytes()).is_some());
        assert_eq!(decode(&good.as_bytes()[..63]), None);
        assert_eq!(decode(format!("{good}0").as_bytes()), None);
        assert_eq!(decode(format!("g{}", &good[1..]).as_bytes()), None);
        assert_eq!(decode(format!("{} ", &good[..63]).as_bytes()), None);
    }
}

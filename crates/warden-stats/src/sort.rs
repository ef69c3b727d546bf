//! Sorting floats fast: a least-significant-digit radix sort on the IEEE-754 bit patterns.
//!
//! Drift on a million rows sorts every feature on both sides; comparison sorts spend most of the time there.

/// Sorts NaN-free floats ascending (as `total_cmp`; -0.0 before 0.0).
pub fn sort_floats(values: &mut [f64]) {
    if values.len() < 4096 {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    // Map to unsigned keys that order like the floats.
    let mut keys: Vec<u64> = values
        .iter()
        .map(|v| {
            let bits = v.to_bits();
            if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
        })
        .collect();
    let mut buffer = vec![0u64; keys.len()];
    for pass in 0..4 {
        let shift = pass * 16;
        let mut counts = vec![0usize; 1 << 16];
        for &k in &keys {
            counts[((k >> shift) & 0xffff) as usize] += 1;
        }
        if counts.contains(&keys.len()) {
            continue; // every key has the same digit here
        }
        let mut total = 0;
        for c in counts.iter_mut() {
            let here = *c;
            *c = total;
            total += here;
        }
        for &k in &keys {
            let digit = ((k >> shift) & 0xffff) as usize;
            buffer[counts[digit]] = k;
            counts[digit] += 1;
        }
        std::mem::swap(&mut keys, &mut buffer);
    }
    for (v, k) in values.iter_mut().zip(keys) {
        let bits = if k >> 63 == 1 { k & !(1 << 63) } else { !k };
        *v = f64::from_bits(bits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_equals_comparison_sort() {
        let mut state = 88172645463325252u64;
        let mut values: Vec<f64> = (0..50_000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match i % 7 {
                    0 => -((state % 1000) as f64),
                    1 => 0.0,
                    2 => -0.0,
                    3 => (state as f64) * 1e-300,
                    _ => (state >> 11) as f64 / 3.0 - 1e15,
                }
            })
            .collect();
        let mut expected = values.clone();
        expected.sort_by(f64::total_cmp);
        sort_floats(&mut values);
        assert_eq!(
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}

//! Quantiles and decile binning, defined exactly as numpy defines them.
//!
//! Reference: `np.unique(np.quantile(x, [0.1, ..., 0.9]))` with numpy's default `'linear'` method, and bin
//! index `np.searchsorted(edges, x, side='left')` (see the golden README, section 1.1).

/// The nine decile probabilities, as the exact decimal literals numpy is given (not `linspace`).
pub const DECILE_PROBABILITIES: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// `np.quantile(sorted, q)` with the default `'linear'` method, for an ascending slice without NaN.
///
/// Returns `None` for an empty slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * q;
    let lo = h.floor();
    if h >= (n - 1) as f64 {
        return Some(sorted[n - 1]);
    }
    let g = h - lo;
    let lo = lo as usize;
    let (a, b) = (sorted[lo], sorted[lo + 1]);
    let d = b - a;
    // numpy's `_lerp` switches formula at g = 0.5 to stay monotone; copy it bit for bit.
    Some(if g >= 0.5 { b - d * (1.0 - g) } else { a + d * g })
}

/// Decile edges of an ascending slice without NaN: the nine deciles with exact duplicates removed.
pub fn decile_edges_sorted(sorted: &[f64]) -> Vec<f64> {
    quantile_edges_sorted(sorted, 10)
}

/// Edges of `bins` equal-frequency bins (`bins - 1` quantiles at i/bins, duplicates removed). Ten bins use the
/// decile literals exactly as the contract writes them.
pub fn quantile_edges_sorted(sorted: &[f64], bins: usize) -> Vec<f64> {
    let probabilities: Vec<f64> = if bins == 10 {
        DECILE_PROBABILITIES.to_vec()
    } else {
        (1..bins.max(1)).map(|i| i as f64 / bins as f64).collect()
    };
    let mut edges: Vec<f64> = probabilities.iter().filter_map(|&q| quantile_sorted(sorted, q)).collect();
    // Quantiles of a sorted slice are already ascending; `dedup` is then `np.unique`.
    edges.dedup();
    edges
}

/// The bin a value falls in: the number of edges strictly below it (`searchsorted(side='left')`).
///
/// Bins are right-closed: `(-inf, e1], (e1, e2], ..., (ek, +inf)`, so there are `edges.len() + 1` bins.
pub fn bin_index(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|&edge| edge < value)
}

/// Counts per bin of an ascending slice without NaN, for the given edges (`edges.len() + 1` counts).
pub fn bin_counts_sorted(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut counts = Vec::with_capacity(edges.len() + 1);
    let mut start = 0usize;
    for &edge in edges {
        let end = sorted.partition_point(|&v| v <= edge);
        counts.push((end - start) as u64);
        start = end;
    }
    counts.push((sorted.len() - start) as u64);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        // np.quantile([1, 2, 3, 4], [0.1, 0.5, 0.9]) == [1.3, 2.5, 3.7]
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile_sorted(&x, 0.1).unwrap() - 1.3).abs() < 1e-15);
        assert_eq!(quantile_sorted(&x, 0.5).unwrap(), 2.5);
        assert!((quantile_sorted(&x, 0.9).unwrap() - 3.7).abs() < 1e-15);
        assert_eq!(quantile_sorted(&[7.0], 0.3), Some(7.0));
        assert_eq!(quantile_sorted(&[], 0.3), None);
    }

    #[test]
    fn edges_drop_duplicates_and_bins_are_right_closed() {
        let x = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0];
        let edges = decile_edges_sorted(&x);
        // np.unique(np.quantile(x, deciles)) == [0.0, 0.2, 1.1]
        assert_eq!(edges.len(), 3);
        assert_eq!(edges[0], 0.0);
        assert_eq!(bin_index(&edges, 0.0), 0);
        assert_eq!(bin_index(&edges, 0.1), 1);
        assert_eq!(bin_counts_sorted(&x, &edges), vec![8, 0, 1, 1]);
        assert_eq!(bin_counts_sorted(&x, &edges).iter().sum::<u64>(), x.len() as u64);
    }

    #[test]
    fn other_bin_counts_use_equal_frequencies() {
        let x: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile_edges_sorted(&x, 4), vec![25.75, 50.5, 75.25]);
        assert_eq!(quantile_edges_sorted(&x, 10), decile_edges_sorted(&x));
        assert_eq!(bin_counts_sorted(&x, &quantile_edges_sorted(&x, 4)), vec![25, 25, 25, 25]);
    }

    #[test]
    fn bin_counts_agree_with_bin_index() {
        let x: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1000) as f64 / 10.0).collect();
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        let edges = decile_edges_sorted(&sorted);
        let mut by_index = vec![0u64; edges.len() + 1];
        for &v in &x {
            by_index[bin_index(&edges, v)] += 1;
        }
        assert_eq!(bin_counts_sorted(&sorted, &edges), by_index);
    }
}

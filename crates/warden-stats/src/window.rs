//! Mergeable window profiles for live monitoring.
//!
//! Each replica summarises the decisions it served in a window; any process can merge the summaries of many
//! windows or replicas without seeing the raw values. Every count merges exactly (the merged profile of two
//! windows equals the profile of their union), so PSI, Jensen–Shannon, χ² and data-quality counts computed
//! from a merged profile are those of the union. Sums merge up to floating-point rounding, and quantiles come
//! from a DDSketch with a bounded relative error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::quantile::bin_index;

/// A DDSketch (Masson, Rim & Lee 2019): log-spaced buckets whose counts add when sketches merge, and quantiles
/// within a relative error `alpha` of a true sample value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileSketch {
    alpha: f64,
    positive: BTreeMap<i32, u64>,
    negative: BTreeMap<i32, u64>,
    zeros: u64,
    count: u64,
}

/// Magnitudes below this are counted as zero.
const SKETCH_MIN_MAGNITUDE: f64 = 1e-9;

impl QuantileSketch {
    /// An empty sketch with relative accuracy `alpha` (e.g. 0.01).
    pub fn new(alpha: f64) -> Self {
        QuantileSketch { alpha, positive: BTreeMap::new(), negative: BTreeMap::new(), zeros: 0, count: 0 }
    }

    fn gamma(&self) -> f64 {
        (1.0 + self.alpha) / (1.0 - self.alpha)
    }

    fn key(&self, magnitude: f64) -> i32 {
        (magnitude.ln() / self.gamma().ln()).ceil() as i32
    }

    fn value(&self, key: i32) -> f64 {
        2.0 * self.gamma().powi(key) / (self.gamma() + 1.0)
    }

    /// Adds a finite value.
    pub fn add(&mut self, value: f64) {
        self.count += 1;
        if value.abs() < SKETCH_MIN_MAGNITUDE {
            self.zeros += 1;
        } else if value > 0.0 {
            *self.positive.entry(self.key(value)).or_default() += 1;
        } else {
            *self.negative.entry(self.key(-value)).or_default() += 1;
        }
    }

    /// Adds another sketch's counts (same `alpha`).
    pub fn merge(&mut self, other: &QuantileSketch) {
        assert_eq!(self.alpha, other.alpha, "sketches of different accuracy cannot merge");
        for (&k, &c) in &other.positive {
            *self.positive.entry(k).or_default() += c;
        }
        for (&k, &c) in &other.negative {
            *self.negative.entry(k).or_default() += c;
        }
        self.zeros += other.zeros;
        self.count += other.count;
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The q-quantile (0 ≤ q ≤ 1), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64) as u64;
        let mut seen = 0u64;
        for (&k, &c) in self.negative.iter().rev() {
            seen += c;
            if seen > rank {
                return Some(-self.value(k));
            }
        }
        seen += self.zeros;
        if seen > rank {
            return Some(0.0);
        }
        for (&k, &c) in &self.positive {
            seen += c;
            if seen > rank {
                return Some(self.value(k));
            }
        }
        None
    }
}

/// Default relative accuracy of window sketches.
pub const SKETCH_ALPHA: f64 = 0.01;

/// A numeric feature's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericWindow {
    /// Non-missing values.
    pub count: u64,
    /// Missing values (NaN or absent).
    pub missing: u64,
    /// Infinite values (kept out of every other statistic).
    pub non_finite: u64,
    /// Sum of values.
    pub sum: f64,
    /// Sum of squared values.
    pub sum_squares: f64,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Counts in the reference's decile bins (`edges.len() + 1`).
    pub bin_counts: Vec<u64>,
    /// Values below the reference minimum or above its maximum.
    pub out_of_range: u64,
    /// Quantile sketch.
    pub sketch: QuantileSketch,
}

impl NumericWindow {
    /// An empty window against reference bins with `edge_count` edges.
    pub fn new(edge_count: usize) -> Self {
        NumericWindow {
            count: 0,
            missing: 0,
            non_finite: 0,
            sum: 0.0,
            sum_squares: 0.0,
            min: None,
            max: None,
            bin_counts: vec![0; edge_count + 1],
            out_of_range: 0,
            sketch: QuantileSketch::new(SKETCH_ALPHA),
        }
    }

    /// Adds a value; NaN counts as missing. `edges` and the reference range are the reference profile's.
    pub fn add(&mut self, value: f64, edges: &[f64], reference_range: (f64, f64)) {
        if self.add_unsketched(value, edges, reference_range) {
            self.sketch.add(value);
        }
    }

    /// [`NumericWindow::add`] leaving the quantile sketch out (a segment's windows keep the bins only, so that
    /// many segments stay small); whether the value was a finite number.
    pub fn add_unsketched(&mut self, value: f64, edges: &[f64], reference_range: (f64, f64)) -> bool {
        if value.is_nan() {
            self.missing += 1;
            return false;
        }
        if value.is_infinite() {
            self.non_finite += 1;
            return false;
        }
        self.count += 1;
        self.sum += value;
        self.sum_squares += value * value;
        self.min = Some(self.min.map_or(value, |m| m.min(value)));
        self.max = Some(self.max.map_or(value, |m| m.max(value)));
        self.bin_counts[bin_index(edges, value)] += 1;
        if value < reference_range.0 || value > reference_range.1 {
            self.out_of_range += 1;
        }
        true
    }

    /// Adds another window of the same feature.
    pub fn merge(&mut self, other: &NumericWindow) {
        self.count += other.count;
        self.missing += other.missing;
        self.non_finite += other.non_finite;
        self.sum += other.sum;
        self.sum_squares += other.sum_squares;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (mine, theirs) in self.bin_counts.iter_mut().zip(&other.bin_counts) {
            *mine += theirs;
        }
        self.out_of_range += other.out_of_range;
        self.sketch.merge(&other.sketch);
    }

    /// Mean of the non-missing values.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// A categorical feature's window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoricalWindow {
    /// Count per category.
    pub counts: BTreeMap<String, u64>,
    /// Missing values.
    pub missing: u64,
}

impl CategoricalWindow {
    /// Adds a value (`None` = missing).
    pub fn add(&mut self, value: Option<&str>) {
        match value {
            Some(v) => match self.counts.get_mut(v) {
                Some(c) => *c += 1,
                None => {
                    self.counts.insert(v.to_owned(), 1);
                }
            },
            None => self.missing += 1,
        }
    }

    /// Adds another window of the same feature.
    pub fn merge(&mut self, other: &CategoricalWindow) {
        for (k, &c) in &other.counts {
            *self.counts.entry(k.clone()).or_default() += c;
        }
        self.missing += other.missing;
    }
}

/// Decisions and favourable outcomes per group of one attribute (approval rates by sex, say), for fairness
/// on live traffic. At most `MAX_GROUPS` distinct groups are kept; later new groups are pooled as `(other)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupRateWindow {
    /// Per group: (decisions, favourable decisions).
    pub groups: BTreeMap<String, (u64, u64)>,
}

impl GroupRateWindow {
    /// Most distinct groups kept.
    pub const MAX_GROUPS: usize = 64;

    /// Counts one decision of `group`.
    pub fn add(&mut self, group: &str, favourable: bool) {
        let slot = match self.groups.get_mut(group) {
            Some(slot) => slot,
            None => {
                let key = if self.groups.len() < Self::MAX_GROUPS { group } else { "(other)" };
                self.groups.entry(key.to_owned()).or_default()
            }
        };
        slot.0 += 1;
        slot.1 += u64::from(favourable);
    }

    /// Lowest favourable rate over the highest among groups with at least `min_decisions` decisions (the
    /// disparate-impact ratio); `None` with fewer than two such groups or when every rate is 0.
    pub fn rate_ratio(&self, min_decisions: u64) -> Option<f64> {
        let rates: Vec<f64> = self
            .groups
            .values()
            .filter(|(n, _)| *n >= min_decisions.max(1))
            .map(|&(n, k)| k as f64 / n as f64)
            .collect();
        if rates.len() < 2 {
            return None;
        }
        let (low, high) = rates.iter().fold((f64::INFINITY, 0.0f64), |(l, h), &r| (l.min(r), h.max(r)));
        (high > 0.0).then(|| low / high)
    }
}

impl Mergeable for GroupRateWindow {
    fn merge_from(&mut self, other: &Self) {
        for (group, &(n, k)) in &other.groups {
            let slot = self.groups.entry(group.clone()).or_default();
            slot.0 += n;
            slot.1 += k;
        }
    }
}

/// A window that can absorb another of the same shape (every window of this module).
pub trait Mergeable {
    /// Adds `other`'s values to `self`.
    fn merge_from(&mut self, other: &Self);
}

impl Mergeable for NumericWindow {
    fn merge_from(&mut self, other: &Self) {
        self.merge(other);
    }
}

impl Mergeable for CategoricalWindow {
    fn merge_from(&mut self, other: &Self) {
        self.merge(other);
    }
}

/// Windows kept in fixed-width time buckets, newest last, so that a monitor can read "the last N seconds"
/// or "the last N values" by merging buckets, and old traffic falls out as buckets are evicted. Times are
/// integers (microseconds in Warden); the caller supplies them, so this stays free of the clock.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeBuckets<W> {
    width: i64,
    capacity: usize,
    empty: W,
    /// (bucket start, values in it, merged window), starts strictly increasing.
    buckets: std::collections::VecDeque<(i64, u64, W)>,
    /// Values that arrived for a bucket older than the oldest kept (counted, not added).
    late: u64,
}

impl<W: Mergeable + Clone> TimeBuckets<W> {
    /// Buckets `width` time units wide, at most `capacity` kept; `empty` is a fresh bucket's window.
    pub fn new(width: i64, capacity: usize, empty: W) -> Self {
        assert!(width > 0 && capacity > 0, "bucket width and capacity must be positive");
        TimeBuckets { width, capacity, empty, buckets: Default::default(), late: 0 }
    }

    /// The window of the bucket holding time `at`, counting one value in it; `None` when `at` is older than
    /// every kept bucket (the value is counted as late).
    pub fn record(&mut self, at: i64) -> Option<&mut W> {
        let (count, window) = self.slot(at)?;
        *count += 1;
        Some(window)
    }

    /// The window of the bucket holding time `at` without counting a value in it (for side figures such as
    /// refusals that are not values of the window); `None` when `at` is older than every kept bucket.
    pub fn window_at(&mut self, at: i64) -> Option<&mut W> {
        self.slot(at).map(|(_, window)| window)
    }

    fn slot(&mut self, at: i64) -> Option<(&mut u64, &mut W)> {
        let start = at.div_euclid(self.width).saturating_mul(self.width);
        let position = match self.buckets.back() {
            Some((last, _, _)) if start > *last => None,
            None => None,
            Some(_) => match self.buckets.binary_search_by_key(&start, |(s, _, _)| *s) {
                Ok(i) => Some(i),
                Err(0) if self.buckets.len() == self.capacity => {
                    self.late += 1;
                    return None;
                }
                Err(i) => {
                    self.buckets.insert(i, (start, 0, self.empty.clone()));
                    Some(i)
                }
            },
        };
        let index = match position {
            Some(i) => i,
            None => {
                self.buckets.push_back((start, 0, self.empty.clone()));
                self.buckets.len() - 1
            }
        };
        let index = if self.buckets.len() > self.capacity {
            self.buckets.pop_front();
            index.checked_sub(1)?
        } else {
            index
        };
        let (_, count, window) = &mut self.buckets[index];
        Some((count, window))
    }

    /// The merged window of the buckets starting at or after `since`, and how many values it holds.
    pub fn since(&self, since: i64) -> (W, u64) {
        let first = since.div_euclid(self.width).saturating_mul(self.width);
        self.merge(self.buckets.iter().filter(|(start, _, _)| *start >= first))
    }

    /// The merged window of the newest buckets that together hold at least `values` values (all of them if
    /// fewer), how many values it holds, and the start of the oldest bucket taken (`None` when empty).
    pub fn last(&self, values: u64) -> (W, u64, Option<i64>) {
        let mut taken = 0;
        let mut from = self.buckets.len();
        while from > 0 && taken < values {
            from -= 1;
            taken += self.buckets[from].1;
        }
        let start = self.buckets.get(from).map(|(s, _, _)| *s);
        let (window, count) = self.merge(self.buckets.iter().skip(from));
        (window, count, start)
    }

    /// Drops the buckets that end at or before `before`.
    pub fn evict_before(&mut self, before: i64) {
        while self.buckets.front().is_some_and(|(start, _, _)| start.saturating_add(self.width) <= before) {
            self.buckets.pop_front();
        }
    }

    /// The kept buckets, oldest first: (start, values, window).
    pub fn buckets(&self) -> impl Iterator<Item = &(i64, u64, W)> {
        self.buckets.iter()
    }

    /// Merges a bucket kept elsewhere (another process's window over the same stretch) into the bucket
    /// starting at `start`; ignored when older than every kept bucket of a full set.
    pub fn add_bucket(&mut self, start: i64, values: u64, window: &W) {
        if let Some((count, mine)) = self.slot(start) {
            *count += values;
            mine.merge_from(window);
        }
    }

    /// Values that came too late for any kept bucket.
    pub fn late(&self) -> u64 {
        self.late
    }

    fn merge<'a>(&self, buckets: impl Iterator<Item = &'a (i64, u64, W)>) -> (W, u64)
    where
        W: 'a,
    {
        let mut merged = self.empty.clone();
        let mut count = 0;
        for (_, n, window) in buckets {
            merged.merge_from(window);
            count += n;
        }
        (merged, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift) so property tests need no crate and repeat exactly.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn sample(rng: &mut Rng, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| match rng.next() {
                u if u < 0.05 => f64::NAN,
                u if u < 0.06 => f64::INFINITY,
                _ => (rng.next() - 0.3) * 1000.0,
            })
            .collect()
    }

    fn window(values: &[f64], edges: &[f64]) -> NumericWindow {
        let mut w = NumericWindow::new(edges.len());
        for &v in values {
            w.add(v, edges, (-200.0, 600.0));
        }
        w
    }

    /// Everything in a window that must merge exactly (all but the floating-point sums).
    fn counts_of(w: &NumericWindow) -> NumericWindow {
        NumericWindow { sum: 0.0, sum_squares: 0.0, ..w.clone() }
    }

    #[test]
    fn merging_windows_gives_the_profile_of_their_union() {
        let edges = [-100.0, 0.0, 100.0, 250.0, 400.0];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for trial in 0..50 {
            let sizes = [(rng.next() * 300.0) as usize, (rng.next() * 300.0) as usize, (rng.next() * 5.0) as usize];
            let parts: Vec<Vec<f64>> = sizes.iter().map(|&n| sample(&mut rng, n)).collect();
            let union: Vec<f64> = parts.concat();
            let whole = window(&union, &edges);
            // (a ∪ b) ∪ c
            let mut left = window(&parts[0], &edges);
            left.merge(&window(&parts[1], &edges));
            left.merge(&window(&parts[2], &edges));
            // a ∪ (c ∪ b)
            let mut right_inner = window(&parts[2], &edges);
            right_inner.merge(&window(&parts[1], &edges));
            let mut right = window(&parts[0], &edges);
            right.merge(&right_inner);
            assert_eq!(counts_of(&left), counts_of(&whole), "trial {trial}: merge equals union");
            assert_eq!(counts_of(&right), counts_of(&whole), "trial {trial}: associative and commutative");
            assert!((left.sum - whole.sum).abs() <= 1e-9 * whole.sum_squares.sqrt().max(1.0));
        }
    }

    #[test]
    fn categorical_merge_is_exact() {
        let (mut a, mut b, mut whole) =
            (CategoricalWindow::default(), CategoricalWindow::default(), CategoricalWindow::default());
        for (i, v) in ["x", "y", "x", "z", "", "y"].iter().enumerate() {
            let v = (!v.is_empty()).then_some(*v);
            if i % 2 == 0 {
                a.add(v)
            } else {
                b.add(v)
            }
            whole.add(v);
        }
        a.merge(&b);
        assert_eq!(a, whole);
    }

    #[test]
    fn sketch_quantiles_are_within_relative_error() {
        let mut rng = Rng(42);
        let mut values: Vec<f64> = (0..20_000).map(|_| 1.0 + rng.next() * 999.0).collect();
        let mut sketch = QuantileSketch::new(SKETCH_ALPHA);
        values.iter().for_each(|&v| sketch.add(v));
        values.sort_by(f64::total_cmp);
        for q in [0.01, 0.1, 0.5, 0.9, 0.99] {
            let exact = values[(q * (values.len() - 1) as f64) as usize];
            let estimate = sketch.quantile(q).unwrap();
            assert!((estimate - exact).abs() <= SKETCH_ALPHA * exact * 1.0001, "q={q}: {estimate} vs {exact}");
        }
        let mut signed = QuantileSketch::new(SKETCH_ALPHA);
        for v in [-5.0, 0.0, 3.0] {
            signed.add(v);
        }
        assert!((signed.quantile(0.0).unwrap() + 5.0).abs() <= 0.05 + 1e-9);
        assert_eq!(signed.quantile(0.5), Some(0.0));
    }

    #[test]
    fn time_buckets_answer_time_and_count_windows_like_one_window_would() {
        let edges = [10.0, 20.0, 30.0];
        let mut buckets = TimeBuckets::new(10, 6, NumericWindow::new(edges.len()));
        let mut rng = Rng(7);
        let mut values = Vec::new();
        for at in 0..60 {
            let value = rng.next() * 40.0;
            values.push((at, value));
            buckets.record(at).unwrap().add(value, &edges, (0.0, 40.0));
        }
        let direct = |from: i64| {
            let mut w = NumericWindow::new(edges.len());
            for (_, v) in values.iter().filter(|(at, _)| *at >= from) {
                w.add(*v, &edges, (0.0, 40.0));
            }
            w
        };
        let (window, count) = buckets.since(30);
        assert_eq!(count, 30);
        assert_eq!(window.bin_counts, direct(30).bin_counts);
        assert_eq!(window.count, direct(30).count);
        // A count window takes whole buckets until it holds at least that many values.
        let (window, count, start) = buckets.last(15);
        assert_eq!((count, start), (20, Some(40)));
        assert_eq!(window.bin_counts, direct(40).bin_counts);
        assert_eq!(buckets.last(1_000).1, 60);
    }

    #[test]
    fn time_buckets_keep_capacity_take_out_of_order_values_and_count_late_ones() {
        let mut buckets = TimeBuckets::new(10, 3, CategoricalWindow::default());
        for at in [0, 15, 25] {
            buckets.record(at).unwrap().add(Some("a"));
        }
        buckets.record(12).unwrap().add(Some("b")); // out of order, still kept
        assert_eq!(buckets.since(10).0.counts.get("b"), Some(&1));
        buckets.record(31).unwrap().add(Some("c")); // a fourth bucket evicts the oldest
        assert_eq!(buckets.since(i64::MIN).1, 4);
        assert!(buckets.record(3).is_none(), "older than every kept bucket");
        assert_eq!(buckets.late(), 1);
        buckets.evict_before(30);
        assert_eq!(buckets.since(i64::MIN).1, 1);
        // Negative times fall in the right bucket too.
        let mut negative = TimeBuckets::new(10, 4, CategoricalWindow::default());
        negative.record(-1).unwrap().add(Some("x"));
        negative.record(0).unwrap().add(Some("y"));
        assert_eq!(negative.since(0).1, 1);
        assert_eq!(negative.since(-10).1, 2);
    }

    #[test]
    fn group_rates_give_the_disparate_impact_ratio_and_merge() {
        let mut a = GroupRateWindow::default();
        for i in 0..100 {
            a.add("f", i < 40);
            a.add("m", i < 50);
        }
        assert!((a.rate_ratio(1).unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(a.rate_ratio(101), None, "groups below the minimum are left out");
        let mut b = GroupRateWindow::default();
        b.add("x", true);
        a.merge_from(&b);
        assert_eq!(a.groups["x"], (1, 1));
        assert!((a.rate_ratio(2).unwrap() - 0.8).abs() < 1e-12);
        let mut many = GroupRateWindow::default();
        for i in 0..(GroupRateWindow::MAX_GROUPS + 5) {
            many.add(&i.to_string(), true);
        }
        assert_eq!(many.groups.len(), GroupRateWindow::MAX_GROUPS + 1);
        assert_eq!(many.groups["(other)"], (5, 5));
    }
}

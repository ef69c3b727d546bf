/*!
Warden's statistics: pure functions over numbers, with no I/O, no clock and no knowledge of HTTP or SQL.

Each statistic is defined by the reference implementation practitioners already trust and is tested against
values that implementation produced (see `stats/golden` in warden-testdata). Today the crate holds the
reference [`profile`] computed at registration and the numpy-compatible [`quantile`] binning it rests on.

```
use warden_stats::quantile::{decile_edges_sorted, bin_index};
let edges = decile_edges_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
assert_eq!(edges, vec![2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
assert_eq!(bin_index(&edges, 2.0), 0); // bins are right-closed
```
*/
#![deny(missing_docs)]

#[cfg(test)]
mod golden_tests;

pub mod calibration;
pub mod cbpe;
pub mod drift;
pub mod fairness;
pub mod ks;
pub mod metrics;
pub mod profile;
pub mod quantile;
pub mod report;
pub mod sort;
pub mod special;
pub mod window;

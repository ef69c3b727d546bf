/*!
Warden's statistics: pure functions over numbers, with no I/O, no clock and no knowledge of HTTP or SQL.

Each statistic is defined by the reference implementation practitioners already trust and is tested against
values that implementation produced (see `stats/golden` in warden-testdata). There is one implementation of each statistic:
registration, the CLI's reports, validation and the live monitors all call it.

- [`quantile`] (numpy's 'linear' quantiles, decile edges, right-closed bins) and [`profile`] (the reference
  profile computed at registration, built a cell at a time from any reader);
- [`ks`] (scipy's `ks_2samp` with its exact and `kstwo.sf` p-values), [`drift`] (Wasserstein, PSI,
  Jensen–Shannon, χ² via [`special`]), [`distribution`] (reference and current shares over the same bins),
  [`report`] (one feature's statistics, data quality and verdict);
- [`metrics`] (scikit-learn's AUC, Brier, log loss, ECE, confusion metrics; DeLong's interval),
  [`fairness`] (fairlearn's group metrics), [`calibration`] (isotonic regression), [`cbpe`] (NannyML's
  label-free performance estimation), [`regression`] (scikit-learn's MAE, RMSE, MAPE and R²), [`dle`] (NannyML's direct loss
  estimation for regression models, without outcomes), [`multiclass`] (one-vs-rest and macro AUC,
  accuracy, the confusion matrix, macro precision, recall and F1), [`multiclass_cbpe`] (NannyML's CBPE for multiclass classifiers), [`reconstruction`] (NannyML's data reconstruction drift, multivariate);
- [`window`] (mergeable live-window profiles with a DDSketch, kept in time buckets) and [`sort`] (radix sort
  for floats, which drift on millions of rows spends most of its time in).

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
pub mod distribution;
pub mod dle;
pub mod drift;
pub mod fairness;
pub mod ks;
pub mod metrics;
pub mod multiclass;
pub mod multiclass_cbpe;
pub mod profile;
pub mod quantile;
pub mod reconstruction;
pub mod regression;
pub mod report;
pub mod sort;
pub mod special;
pub mod window;

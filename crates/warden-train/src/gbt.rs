//! Gradient-boosted trees for a binary outcome (logistic loss, [`fit`]) or a number (squared error,
//! [`fit_regression`]), grown depth-wise on histograms as XGBoost's `hist` method grows them, and written as
//! XGBoost's JSON model so Warden serves them with TreeSHAP.
//!
//! Each feature is cut into at most `max_bins` bins at its quantiles (every distinct value is a bin when
//! there are few); a node's split is the bin boundary with the largest gain
//! `½[G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)]`, missing values going to the side that gains more (the
//! default direction); a leaf's value is `−η·G/(H+λ)`. The first margin is the log-odds of the label mean
//! for a binary outcome and the target's mean for a number (XGBoost's `boost_from_average`). Thresholds are exported as the float32 value of the first bin on the right,
//! so `x < threshold` sends a row left exactly as in training.

use serde_json::{Value, json};

use crate::TrainError;

/// Training settings (XGBoost's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GbtOptions {
    /// Trees.
    pub n_estimators: usize,
    /// Deepest split level.
    pub max_depth: usize,
    /// Learning rate η.
    pub learning_rate: f64,
    /// L2 penalty λ on leaf values.
    pub lambda: f64,
    /// Smallest hessian sum a child may have.
    pub min_child_weight: f64,
    /// Bins per feature.
    pub max_bins: usize,
}

impl Default for GbtOptions {
    fn default() -> Self {
        GbtOptions {
            n_estimators: 100,
            max_depth: 6,
            learning_rate: 0.3,
            lambda: 1.0,
            min_child_weight: 1.0,
            max_bins: 256,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf { value: f64, hessian: f64 },
    Split { feature: usize, threshold: f32, default_left: bool, left: usize, right: usize, hessian: f64 },
}

/// What the trees learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Objective {
    /// A binary outcome: margins are log-odds (`binary:logistic`).
    Logistic,
    /// A number: margins are the prediction (`reg:squarederror`).
    SquaredError,
}

/// A trained ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct Booster {
    objective: Objective,
    base_score: f64,
    trees: Vec<Vec<Node>>,
    features: usize,
}

/// One feature's bins: the float32 lower edge of each bin, and each row's bin (`u16::MAX` = missing).
struct Binned {
    edges: Vec<f32>,
    rows: Vec<u16>,
}

const MISSING: u16 = u16::MAX;

fn bin_feature(values: &[f64], max_bins: usize) -> Binned {
    let mut present: Vec<f32> = values.iter().filter(|v| !v.is_nan()).map(|&v| v as f32).collect();
    present.sort_by(f32::total_cmp);
    present.dedup();
    let edges: Vec<f32> = if present.len() <= max_bins {
        present
    } else {
        let mut cuts: Vec<f32> = (0..max_bins).map(|k| present[k * present.len() / max_bins]).collect();
        cuts.dedup();
        cuts
    };
    let rows = values
        .iter()
        .map(|&v| {
            if v.is_nan() {
                MISSING
            } else {
                // The last edge not above the value.
                (edges.partition_point(|&e| e <= v as f32).saturating_sub(1)) as u16
            }
        })
        .collect();
    Binned { edges, rows }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Trains on `columns` (column-major; NaN = missing) and `labels` (true = the event).
pub fn fit(columns: &[Vec<f64>], labels: &[bool], options: GbtOptions) -> Result<Booster, TrainError> {
    let positives = labels.iter().filter(|&&y| y).count();
    if !labels.is_empty() && (positives == 0 || positives == labels.len()) {
        return Err(TrainError::Data("the labels have only one class".into()));
    }
    let targets: Vec<f64> = labels.iter().map(|&y| f64::from(u8::from(y))).collect();
    boost(columns, &targets, Objective::Logistic, options)
}

/// Trains on `columns` (column-major; NaN = missing) to predict `targets` under squared error.
pub fn fit_regression(columns: &[Vec<f64>], targets: &[f64], options: GbtOptions) -> Result<Booster, TrainError> {
    if targets.iter().any(|t| !t.is_finite()) {
        return Err(TrainError::Data("a target is not finite".into()));
    }
    boost(columns, targets, Objective::SquaredError, options)
}

fn boost(
    columns: &[Vec<f64>],
    targets: &[f64],
    objective: Objective,
    options: GbtOptions,
) -> Result<Booster, TrainError> {
    let n = targets.len();
    if n == 0 || columns.is_empty() {
        return Err(TrainError::Data("no training rows or no features".into()));
    }
    if let Some((j, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != n) {
        return Err(TrainError::Data(format!("column {j} has {} values for {n} targets", c.len())));
    }
    if columns.iter().flatten().any(|v| v.is_infinite()) {
        return Err(TrainError::Data("a feature holds an infinite value".into()));
    }
    if !(2..=u16::MAX as usize - 1).contains(&options.max_bins) {
        return Err(TrainError::Data("max_bins must be between 2 and 65,534".into()));
    }
    let binned: Vec<Binned> = columns.iter().map(|c| bin_feature(c, options.max_bins)).collect();
    let base_score = targets.iter().sum::<f64>() / n as f64;
    let base_margin = match objective {
        Objective::Logistic => (base_score / (1.0 - base_score)).ln(),
        Objective::SquaredError => base_score,
    };
    let mut margins = vec![base_margin; n];
    let mut trees = Vec::with_capacity(options.n_estimators);
    for _ in 0..options.n_estimators {
        let (gradients, hessians): (Vec<f64>, Vec<f64>) = margins
            .iter()
            .zip(targets)
            .map(|(&m, &y)| match objective {
                Objective::Logistic => {
                    let p = sigmoid(m);
                    (p - y, (p * (1.0 - p)).max(1e-16))
                }
                Objective::SquaredError => (m - y, 1.0),
            })
            .unzip();
        let mut nodes = Vec::new();
        let rows: Vec<usize> = (0..n).collect();
        grow(&binned, &gradients, &hessians, rows, 0, &options, &mut nodes);
        // Apply the tree to the margins (in float32, as it will be served).
        for (i, margin) in margins.iter_mut().enumerate() {
            *margin += leaf_value(&nodes, |f| binned[f].rows[i], &binned);
        }
        trees.push(nodes);
    }
    Ok(Booster { objective, base_score, trees, features: columns.len() })
}

/// The leaf a training row reaches (by its bins) and its value.
fn leaf_value(nodes: &[Node], bin_of: impl Fn(usize) -> u16, binned: &[Binned]) -> f64 {
    let mut at = 0;
    loop {
        match &nodes[at] {
            Node::Leaf { value, .. } => return f64::from(*value as f32),
            Node::Split { feature, threshold, default_left, left, right, .. } => {
                let bin = bin_of(*feature);
                let go_left =
                    if bin == MISSING { *default_left } else { binned[*feature].edges[bin as usize] < *threshold };
                at = if go_left { *left } else { *right };
            }
        }
    }
}

struct Best {
    gain: f64,
    feature: usize,
    /// Rows with bin < split_bin go left.
    split_bin: usize,
    default_left: bool,
}

/// Grows the subtree of `rows` at `depth`, appending its nodes; returns the index of its root.
fn grow(
    binned: &[Binned],
    gradients: &[f64],
    hessians: &[f64],
    rows: Vec<usize>,
    depth: usize,
    options: &GbtOptions,
    nodes: &mut Vec<Node>,
) -> usize {
    let (g, h): (f64, f64) = rows.iter().fold((0.0, 0.0), |(g, h), &i| (g + gradients[i], h + hessians[i]));
    let index = nodes.len();
    let leaf = Node::Leaf { value: -options.learning_rate * g / (h + options.lambda), hessian: h };
    nodes.push(leaf);
    if depth >= options.max_depth {
        return index;
    }
    let parent_score = g * g / (h + options.lambda);
    let mut best: Option<Best> = None;
    for (feature, bins) in binned.iter().enumerate() {
        let k = bins.edges.len();
        if k < 2 {
            continue;
        }
        let mut hist_g = vec![0.0; k];
        let mut hist_h = vec![0.0; k];
        let (mut missing_g, mut missing_h) = (0.0, 0.0);
        for &i in &rows {
            match bins.rows[i] {
                MISSING => {
                    missing_g += gradients[i];
                    missing_h += hessians[i];
                }
                b => {
                    hist_g[b as usize] += gradients[i];
                    hist_h[b as usize] += hessians[i];
                }
            }
        }
        let (mut left_g, mut left_h) = (0.0, 0.0);
        for split_bin in 1..k {
            left_g += hist_g[split_bin - 1];
            left_h += hist_h[split_bin - 1];
            for default_left in [false, true] {
                let (lg, lh) = if default_left { (left_g + missing_g, left_h + missing_h) } else { (left_g, left_h) };
                let (rg, rh) = (g - lg, h - lh);
                if lh < options.min_child_weight || rh < options.min_child_weight {
                    continue;
                }
                let gain = 0.5 * (lg * lg / (lh + options.lambda) + rg * rg / (rh + options.lambda) - parent_score);
                if gain > 1e-12 && best.as_ref().is_none_or(|b| gain > b.gain) {
                    best = Some(Best { gain, feature, split_bin, default_left });
                }
            }
        }
    }
    let Some(best) = best else { return index };
    let bins = &binned[best.feature];
    let (left_rows, right_rows): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| match bins.rows[i] {
        MISSING => best.default_left,
        b => (b as usize) < best.split_bin,
    });
    let left = grow(binned, gradients, hessians, left_rows, depth + 1, options, nodes);
    let right = grow(binned, gradients, hessians, right_rows, depth + 1, options, nodes);
    nodes[index] = Node::Split {
        feature: best.feature,
        threshold: bins.edges[best.split_bin],
        default_left: best.default_left,
        left,
        right,
        hessian: h,
    };
    index
}

impl Booster {
    /// The probability of the event for one row (NaN = missing), or the predicted number for a regression, as
    /// XGBoost computes it (float32 sums).
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut margin = match self.objective {
            Objective::Logistic => (self.base_score / (1.0 - self.base_score)).ln() as f32,
            Objective::SquaredError => self.base_score as f32,
        };
        for nodes in &self.trees {
            let mut at = 0;
            loop {
                match &nodes[at] {
                    Node::Leaf { value, .. } => {
                        margin += *value as f32;
                        break;
                    }
                    Node::Split { feature, threshold, default_left, left, right, .. } => {
                        let x = row[*feature];
                        let go_left = if x.is_nan() { *default_left } else { (x as f32) < *threshold };
                        at = if go_left { *left } else { *right };
                    }
                }
            }
        }
        match self.objective {
            Objective::Logistic => sigmoid(f64::from(margin)),
            Objective::SquaredError => f64::from(margin),
        }
    }

    /// The model as XGBoost's JSON (`Booster.save_model`), readable by Warden's XGBoost reader.
    pub fn to_xgboost_json(&self, feature_names: &[String]) -> Value {
        let trees: Vec<Value> = self
            .trees
            .iter()
            .enumerate()
            .map(|(id, nodes)| {
                let (mut left, mut right, mut index, mut condition, mut default_left, mut hessian) =
                    (vec![], vec![], vec![], vec![], vec![], vec![]);
                for node in nodes {
                    match node {
                        Node::Leaf { value, hessian: h } => {
                            left.push(-1i64);
                            right.push(-1i64);
                            index.push(0i64);
                            condition.push(*value as f32);
                            default_left.push(0u8);
                            hessian.push(*h as f32);
                        }
                        Node::Split { feature, threshold, default_left: d, left: l, right: r, hessian: h } => {
                            left.push(*l as i64);
                            right.push(*r as i64);
                            index.push(*feature as i64);
                            condition.push(*threshold);
                            default_left.push(u8::from(*d));
                            hessian.push(*h as f32);
                        }
                    }
                }
                let parents: Vec<i64> = (0..nodes.len())
                    .map(|i| {
                        left.iter().position(|&c| c == i as i64).or_else(|| right.iter().position(|&c| c == i as i64)).map_or(i64::from(i32::MAX), |p| p as i64)
                    })
                    .collect();
                json!({
                    "id": id, "left_children": left, "right_children": right, "parents": parents,
                    "split_indices": index, "split_conditions": condition, "default_left": default_left,
                    "sum_hessian": hessian, "split_type": vec![0u8; nodes.len()],
                    "base_weights": condition, "loss_changes": vec![0.0f32; nodes.len()],
                    "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
                    "tree_param": {"num_nodes": nodes.len().to_string(), "size_leaf_vector": "1", "num_feature": self.features.to_string()},
                })
            })
            .collect();
        json!({
            "learner": {
                "feature_names": feature_names,
                "feature_types": vec!["float"; feature_names.len()],
                "gradient_booster": {
                    "name": "gbtree",
                    "model": {
                        "gbtree_model_param": {"num_trees": self.trees.len().to_string(), "num_parallel_tree": "1"},
                        "iteration_indptr": (0..=self.trees.len()).collect::<Vec<_>>(),
                        "tree_info": vec![0; self.trees.len()],
                        "trees": trees,
                    }
                },
                "learner_model_param": {
                    "base_score": format!("[{:E}]", self.base_score as f32), "boost_from_average": "1",
                    "num_class": "0", "num_feature": self.features.to_string(), "num_target": "1",
                },
                "objective": match self.objective {
                    Objective::Logistic => json!({"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}}),
                    Objective::SquaredError => json!({"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}}),
                },
            },
            "version": [3, 2, 0],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_function_is_learned_and_missing_values_take_the_better_side() {
        // y = 1 when x ≥ 5; missing rows are all positive, so they should go right.
        let mut x: Vec<f64> = (0..10).map(f64::from).collect();
        x.extend([f64::NAN; 4]);
        let labels: Vec<bool> = x.iter().map(|&v| v.is_nan() || v >= 5.0).collect();
        let options = GbtOptions { n_estimators: 20, max_depth: 1, min_child_weight: 0.0, ..GbtOptions::default() };
        let booster = fit(&[x], &labels, options).unwrap();
        assert!(booster.predict(&[2.0]) < 0.2 && booster.predict(&[7.0]) > 0.8);
        assert!(booster.predict(&[f64::NAN]) > 0.8, "missing goes with the positives");
        match &booster.trees[0][0] {
            Node::Split { threshold, default_left, .. } => assert_eq!((*threshold, *default_left), (5.0, false)),
            leaf => panic!("no split: {leaf:?}"),
        }
    }

    #[test]
    fn quantile_bins_keep_at_most_max_bins() {
        let values: Vec<f64> = (0..10_000).map(f64::from).collect();
        let binned = bin_feature(&values, 256);
        assert_eq!(binned.edges.len(), 256);
        assert!(binned.rows.iter().all(|&b| (b as usize) < 256));
        assert_eq!(binned.rows[0], 0);
        assert_eq!(binned.rows[9_999], 255);
    }
}

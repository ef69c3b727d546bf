//! Tree ensembles (XGBoost, LightGBM): traversal with each library's own split rules and arithmetic, and
//! path-dependent TreeSHAP (Lundberg et al. 2020, Algorithm 2) as both libraries implement it.

use crate::{Explanation, Prediction, sigmoid};
use std::ops::{Add, Div, Mul, Sub};

/// The arithmetic a library uses: XGBoost sums margins and SHAP values in float32, LightGBM in float64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    F32,
    F64,
}

/// How the margin becomes a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Link {
    /// `1 / (1 + exp(-k·margin))`.
    Logistic(f64),
    /// The margin is the score.
    Identity,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Split {
    /// XGBoost numeric: left when `f32(x) < threshold`.
    Less(f32),
    /// XGBoost categorical: the listed category codes go right, the rest left.
    CategoriesRight(Vec<u32>),
    /// LightGBM numeric: left when `x <= threshold`, with LightGBM's missing-value rule.
    LessOrEqual { threshold: f64, missing: LgbMissing },
    /// LightGBM categorical: codes in the bitset go left.
    CategoriesLeft(Vec<u32>),
}

/// LightGBM's missing type (bits 2-3 of `decision_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LgbMissing {
    /// NaN is treated as 0.0.
    None,
    /// NaN becomes 0.0, and |x| <= 1e-35 takes the default side.
    Zero,
    /// NaN takes the default side.
    NaN,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Leaf { value: f64, cover: f64 },
    Internal { feature: usize, split: Split, default_left: bool, left: usize, right: usize, cover: f64 },
}

impl Node {
    fn cover(&self) -> f64 {
        match self {
            Node::Leaf { cover, .. } | Node::Internal { cover, .. } => *cover,
        }
    }
}

/// One tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

const LGB_ZERO_THRESHOLD: f64 = 1e-35;

/// The deepest tree an artifact may hold (splits from root to leaf). Boosted trees are rarely deeper than
/// 30; TreeSHAP's working memory grows with the square of the depth and its walk recurses once per level,
/// so the bound keeps an explanation's stack and memory small whatever the artifact says.
pub const MAX_TREE_DEPTH: usize = 256;

/// The most features a tree model may declare: a count is allocated for (inputs, explanation buffers), and a
/// declared count needs no bytes behind it in the artifact.
pub const MAX_FEATURES: usize = 100_000;

/// The most classes a multiclass model may declare: every prediction, logged decision and reference row carries
/// one probability per class.
pub const MAX_CLASSES: usize = 100;

impl Tree {
    /// The child `x` goes to from internal node `index`.
    fn next(&self, feature: usize, split: &Split, default_left: bool, left: usize, right: usize, x: &[f64]) -> usize {
        let value = x[feature];
        let default = if default_left { left } else { right };
        match split {
            Split::Less(threshold) => {
                if value.is_nan() {
                    default
                } else if (value as f32) < *threshold {
                    left
                } else {
                    right
                }
            }
            Split::CategoriesRight(categories) => {
                if value.is_nan() || value < 0.0 || value.fract() != 0.0 {
                    default
                } else if categories.binary_search(&(value as u32)).is_ok() {
                    right
                } else {
                    left
                }
            }
            Split::LessOrEqual { threshold, missing } => {
                let mut value = value;
                if value.is_nan() && *missing != LgbMissing::NaN {
                    value = 0.0;
                }
                let takes_default = match missing {
                    LgbMissing::Zero => (-LGB_ZERO_THRESHOLD..=LGB_ZERO_THRESHOLD).contains(&value),
                    LgbMissing::NaN => value.is_nan(),
                    LgbMissing::None => false,
                };
                if takes_default {
                    default
                } else if value <= *threshold {
                    left
                } else {
                    right
                }
            }
            Split::CategoriesLeft(bits) => {
                if value.is_nan() || value < 0.0 {
                    return right;
                }
                let code = value as usize;
                let (word, bit) = (code / 32, code % 32);
                if bits.get(word).is_some_and(|w| (w >> bit) & 1 == 1) { left } else { right }
            }
        }
    }

    fn child(&self, index: usize, x: &[f64]) -> Option<usize> {
        match &self.nodes[index] {
            Node::Leaf { .. } => None,
            Node::Internal { feature, split, default_left, left, right, .. } => {
                Some(self.next(*feature, split, *default_left, *left, *right, x))
            }
        }
    }

    fn leaf_value(&self, x: &[f64]) -> f64 {
        let mut index = 0;
        while let Some(next) = self.child(index, x) {
            index = next;
        }
        match self.nodes[index] {
            Node::Leaf { value, .. } => value,
            Node::Internal { .. } => unreachable!("traversal ends at a leaf"),
        }
    }

    /// Node indices from the root, each parent before its children (an explicit stack: trees come from
    /// untrusted artifacts and may be arbitrarily deep, so no walk recurses).
    fn preorder(&self) -> Vec<(usize, usize)> {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![(0usize, 0usize)];
        while let Some((index, level)) = stack.pop() {
            order.push((index, level));
            if let Node::Internal { left, right, .. } = &self.nodes[index] {
                stack.push((*right, level + 1));
                stack.push((*left, level + 1));
            }
        }
        order
    }

    /// The number of splits on the longest path from the root to a leaf.
    fn depth(&self) -> usize {
        self.preorder().iter().map(|&(_, level)| level).max().unwrap_or(0)
    }

    /// Checks child indices (in range, acyclic: every child after its parent) and features.
    pub(crate) fn check(&self, n_features: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("a tree has no nodes".into());
        }
        let mut parents = vec![0usize; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if let Node::Internal { feature, left, right, .. } = node {
                if *feature >= n_features {
                    return Err(format!("node {i} splits on feature {feature}, the model has {n_features}"));
                }
                for child in [*left, *right] {
                    if child >= self.nodes.len() || child == 0 {
                        return Err(format!("node {i} has child {child} outside the tree"));
                    }
                    parents[child] += 1;
                }
            }
        }
        if parents.iter().skip(1).any(|&count| count != 1) || parents[0] != 0 {
            return Err("a tree's nodes do not form a tree (a node with no parent or two)".into());
        }
        // Every node has one parent, so a walk from the root ends; nodes it does not reach form a cycle.
        let order = self.preorder();
        if order.len() != self.nodes.len() {
            return Err("a tree's nodes do not form a tree (nodes the root does not reach)".into());
        }
        let depth = order.iter().map(|&(_, level)| level).max().unwrap_or(0);
        if depth > MAX_TREE_DEPTH {
            return Err(format!("the tree is {depth} splits deep; the limit is {MAX_TREE_DEPTH}"));
        }
        Ok(())
    }
}

/// A sum of trees with a base margin and a link.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ensemble {
    pub(crate) trees: Vec<Tree>,
    pub(crate) base_margin: f64,
    pub(crate) link: Link,
    pub(crate) precision: Precision,
    pub(crate) n_features: usize,
    /// Per tree, the cover-weighted mean value below each node, in the library's arithmetic (for TreeSHAP).
    means: Vec<Vec<f64>>,
    max_depth: usize,
}

impl Ensemble {
    pub(crate) fn new(trees: Vec<Tree>, base_margin: f64, link: Link, precision: Precision, n_features: usize) -> Self {
        let means = trees
            .iter()
            .map(|t| match precision {
                Precision::F32 => node_means::<f32>(t).into_iter().map(f64::from).collect(),
                Precision::F64 => node_means::<f64>(t),
            })
            .collect();
        let max_depth = trees.iter().map(Tree::depth).max().unwrap_or(0);
        Ensemble { trees, base_margin, link, precision, n_features, means, max_depth }
    }

    pub(crate) fn margin(&self, x: &[f64]) -> f64 {
        match self.precision {
            Precision::F32 => {
                let mut margin = self.base_margin as f32;
                for tree in &self.trees {
                    margin += tree.leaf_value(x) as f32;
                }
                margin as f64
            }
            Precision::F64 => self.base_margin + self.trees.iter().map(|t| t.leaf_value(x)).sum::<f64>(),
        }
    }

    pub(crate) fn predict(&self, x: &[f64]) -> Prediction {
        let margin = self.margin(x);
        let score = match (self.link, self.precision) {
            (Link::Identity, _) => margin,
            (Link::Logistic(k), Precision::F32) => {
                let m = (k as f32) * margin as f32;
                (1.0f32 / (1.0f32 + (-m).exp())) as f64
            }
            (Link::Logistic(k), Precision::F64) => sigmoid(k * margin),
        };
        Prediction { score, margin: Some(margin), probabilities: Vec::new() }
    }

    pub(crate) fn explain(&self, x: &[f64]) -> Explanation {
        match self.precision {
            Precision::F32 => self.explain_in::<f32>(x),
            Precision::F64 => self.explain_in::<f64>(x),
        }
    }

    /// XGBoost sums each tree's contributions (computed in its own buffer) into the total, then adds the
    /// base margin to the bias; LightGBM does the same in float64. `R` is the library's arithmetic.
    fn explain_in<R: Real>(&self, x: &[f64]) -> Explanation {
        let n = self.n_features;
        let mut total = vec![R::ZERO; n + 1];
        let mut tree_phi = vec![R::ZERO; n + 1];
        let depth = self.max_depth + 2;
        let mut paths = vec![PathElement::<R>::default(); depth * (depth + 1) / 2];
        for (tree, means) in self.trees.iter().zip(&self.means) {
            tree_phi.iter_mut().for_each(|v| *v = R::ZERO);
            tree_phi[n] = tree_phi[n] + R::from_f64(means[0]);
            if tree.nodes.len() > 1 {
                tree_shap(tree, x, &mut tree_phi, 0, 0, &mut paths, 0, R::ONE, R::ONE, None);
            }
            for (t, p) in total.iter_mut().zip(&tree_phi) {
                *t = *t + *p;
            }
        }
        total[n] = total[n] + R::from_f64(self.base_margin);
        let base = total[n].to_f64();
        Explanation { base, contributions: total[..n].iter().map(|v| v.to_f64()).collect() }
    }
}

/// The trees of a model file: one sum of trees, or one per class for a multiclass classifier (tree `i` of an
/// XGBoost file adds to the class its `tree_info` names; LightGBM's trees take the classes in turn), each
/// with that class's base margin and no link, the classes' margins turned into probabilities by softmax.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Forest {
    Single(Ensemble),
    Classes(Vec<Ensemble>),
}

impl Forest {
    pub(crate) fn n_features(&self) -> usize {
        match self {
            Forest::Single(ensemble) => ensemble.n_features,
            Forest::Classes(classes) => classes.first().map_or(0, |c| c.n_features),
        }
    }

    /// How many class probabilities a prediction carries (none for a single score).
    pub(crate) fn classes(&self) -> usize {
        match self {
            Forest::Single(_) => 0,
            Forest::Classes(classes) => classes.len(),
        }
    }

    pub(crate) fn predict(&self, x: &[f64]) -> Prediction {
        let classes = match self {
            Forest::Single(ensemble) => return ensemble.predict(x),
            Forest::Classes(classes) => classes,
        };
        let margins: Vec<f64> = classes.iter().map(|c| c.margin(x)).collect();
        let probabilities = softmax(&margins, classes[0].precision);
        let class = most_probable(&probabilities);
        Prediction { score: probabilities[class], margin: Some(margins[class]), probabilities }
    }

    /// Explains the margin of `class` (a multiclass model), or the one margin.
    pub(crate) fn explain(&self, x: &[f64], class: Option<usize>) -> Explanation {
        match (self, class) {
            (Forest::Single(ensemble), _) => ensemble.explain(x),
            (Forest::Classes(classes), Some(class)) if class < classes.len() => classes[class].explain(x),
            (Forest::Classes(classes), _) => {
                let class = most_probable(&self.predict(x).probabilities);
                classes[class].explain(x)
            }
        }
    }
}

/// The first of the most probable classes (the libraries' argmax).
pub(crate) fn most_probable(probabilities: &[f64]) -> usize {
    let mut best = 0;
    for (i, p) in probabilities.iter().enumerate() {
        if *p > probabilities[best] {
            best = i;
        }
    }
    best
}

/// Softmax as each library computes it: XGBoost exponentiates in float32, sums in float64 and divides in
/// float32; LightGBM works in float64 throughout. Both subtract the largest margin first.
fn softmax(margins: &[f64], precision: Precision) -> Vec<f64> {
    match precision {
        Precision::F32 => {
            let margins: Vec<f32> = margins.iter().map(|m| *m as f32).collect();
            let max = margins.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exps: Vec<f32> = margins.iter().map(|m| (m - max).exp()).collect();
            let sum = exps.iter().map(|e| *e as f64).sum::<f64>() as f32;
            exps.iter().map(|e| (e / sum) as f64).collect()
        }
        Precision::F64 => {
            let max = margins.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = margins.iter().map(|m| (m - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            exps.iter().map(|e| e / sum).collect()
        }
    }
}

/// Float arithmetic TreeSHAP runs in.
pub(crate) trait Real:
    Copy + Default + PartialEq + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(v: f64) -> Self;
    fn from_usize(v: usize) -> Self;
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_usize(v: usize) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn from_usize(v: usize) -> Self {
        v as f64
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// Cover-weighted mean leaf value below each node, children before their parents.
fn node_means<R: Real>(tree: &Tree) -> Vec<R> {
    let mut means = vec![R::ZERO; tree.nodes.len()];
    for &(index, _) in tree.preorder().iter().rev() {
        means[index] = match &tree.nodes[index] {
            Node::Leaf { value, .. } => R::from_f64(*value),
            Node::Internal { left, right, cover, .. } => {
                let l = means[*left] * R::from_f64(tree.nodes[*left].cover());
                let r = means[*right] * R::from_f64(tree.nodes[*right].cover());
                (l + r) / R::from_f64(*cover)
            }
        };
    }
    means
}

#[derive(Debug, Clone, Copy, Default)]
struct PathElement<R> {
    feature: Option<usize>,
    zero_fraction: R,
    one_fraction: R,
    weight: R,
}

fn extend_path<R: Real>(path: &mut [PathElement<R>], depth: usize, zero: R, one: R, feature: Option<usize>) {
    path[depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        weight: if depth == 0 { R::ONE } else { R::ZERO },
    };
    let d1 = R::from_usize(depth + 1);
    for i in (0..depth).rev() {
        path[i + 1].weight = path[i + 1].weight + one * path[i].weight * R::from_usize(i + 1) / d1;
        path[i].weight = zero * path[i].weight * R::from_usize(depth - i) / d1;
    }
}

fn unwind_path<R: Real>(path: &mut [PathElement<R>], depth: usize, index: usize) {
    let (one, zero) = (path[index].one_fraction, path[index].zero_fraction);
    let mut next_one_portion = path[depth].weight;
    let d1 = R::from_usize(depth + 1);
    for i in (0..depth).rev() {
        if one != R::ZERO {
            let tmp = path[i].weight;
            path[i].weight = next_one_portion * d1 / (R::from_usize(i + 1) * one);
            next_one_portion = tmp - path[i].weight * zero * R::from_usize(depth - i) / d1;
        } else {
            path[i].weight = path[i].weight * d1 / (zero * R::from_usize(depth - i));
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_path_sum<R: Real>(path: &[PathElement<R>], depth: usize, index: usize) -> R {
    let (one, zero) = (path[index].one_fraction, path[index].zero_fraction);
    let mut next_one_portion = path[depth].weight;
    let mut total = R::ZERO;
    let d1 = R::from_usize(depth + 1);
    for i in (0..depth).rev() {
        if one != R::ZERO {
            let tmp = next_one_portion * d1 / (R::from_usize(i + 1) * one);
            total = total + tmp;
            next_one_portion = path[i].weight - tmp * zero * (R::from_usize(depth - i) / d1);
        } else {
            total = total + (path[i].weight / zero) / (R::from_usize(depth - i) / d1);
        }
    }
    total
}

/// Recurses once per level: `Tree::check` bounds the depth by [`MAX_TREE_DEPTH`].
/// `paths` holds the unique path of every level back to back: each level's copy starts right after its
/// parent's, as in XGBoost's and LightGBM's implementations (the root's parent is the empty slot 0).
#[allow(clippy::too_many_arguments)]
fn tree_shap<R: Real>(
    tree: &Tree,
    x: &[f64],
    phi: &mut [R],
    node: usize,
    depth: usize,
    paths: &mut [PathElement<R>],
    parent_start: usize,
    parent_zero: R,
    parent_one: R,
    parent_feature: Option<usize>,
) {
    // This level's path is a copy of the parent's (`depth + 1` elements), placed right after it.
    let start = parent_start + depth + 1;
    paths.copy_within(parent_start..start, start);
    let mut depth = depth;
    extend_path(&mut paths[start..], depth, parent_zero, parent_one, parent_feature);
    match &tree.nodes[node] {
        Node::Leaf { value, .. } => {
            let path = &paths[start..];
            let value = R::from_f64(*value);
            for i in 1..=depth {
                let w = unwound_path_sum(path, depth, i);
                let el = path[i];
                let feature = el.feature.expect("path elements past the root name a feature");
                phi[feature] = phi[feature] + w * (el.one_fraction - el.zero_fraction) * value;
            }
        }
        Node::Internal { feature, split, default_left, left, right, cover } => {
            let hot = tree.next(*feature, split, *default_left, *left, *right, x);
            let cold = if hot == *left { *right } else { *left };
            let w = R::from_f64(*cover);
            let hot_zero = R::from_f64(tree.nodes[hot].cover()) / w;
            let cold_zero = R::from_f64(tree.nodes[cold].cover()) / w;
            let (mut incoming_zero, mut incoming_one) = (R::ONE, R::ONE);
            let path = &mut paths[start..];
            if let Some(index) = (0..=depth).find(|&i| path[i].feature == Some(*feature)) {
                incoming_zero = path[index].zero_fraction;
                incoming_one = path[index].one_fraction;
                unwind_path(path, depth, index);
                depth -= 1;
            }
            tree_shap(
                tree,
                x,
                phi,
                hot,
                depth + 1,
                paths,
                start,
                hot_zero * incoming_zero,
                incoming_one,
                Some(*feature),
            );
            tree_shap(tree, x, phi, cold, depth + 1, paths, start, cold_zero * incoming_zero, R::ZERO, Some(*feature));
        }
    }
}

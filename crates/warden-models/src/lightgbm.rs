//! LightGBM's text model (`Booster.save_model("model.txt")`, version v3/v4).

use crate::ModelError;
use crate::trees::{Ensemble, Forest, LgbMissing, Link, MAX_CLASSES, MAX_FEATURES, Node, Precision, Split, Tree};
use std::collections::HashMap;

const FORMAT: &str = "lightgbm-text";

fn invalid(message: impl Into<String>) -> ModelError {
    ModelError::Invalid { format: FORMAT, message: message.into() }
}

/// Parses a model; returns the ensemble and its feature names.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Forest, Vec<String>), ModelError> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("the file is not UTF-8 text"))?;
    let body = text.split("\nend of trees").next().unwrap_or(text);
    let mut blocks = body.split("\nTree=");
    let header = fields(blocks.next().unwrap_or_default());
    if header.get("version").is_none_or(|v| !v.starts_with('v')) && !body.starts_with("tree") {
        return Err(invalid("missing the 'tree' header"));
    }
    let get = |key: &str| header.get(key).copied().ok_or_else(|| invalid(format!("header has no '{key}'")));
    let num_class: usize = get("num_class")?.parse().map_err(|_| invalid("num_class is not a number"))?;
    let per_iteration: usize = header.get("num_tree_per_iteration").unwrap_or(&"1").parse().unwrap_or(0);
    if num_class == 0 || num_class > MAX_CLASSES || per_iteration != num_class {
        return Err(invalid(format!(
            "num_class {num_class} with num_tree_per_iteration {per_iteration} (a model has one tree per class and \
             iteration, and at most {MAX_CLASSES} classes)"
        )));
    }
    let max_feature: usize = get("max_feature_idx")?.parse().map_err(|_| invalid("max_feature_idx is not a number"))?;
    let n_features = max_feature.checked_add(1).ok_or_else(|| invalid("max_feature_idx is out of range"))?;
    if n_features > MAX_FEATURES {
        return Err(invalid(format!("max_feature_idx is {max_feature}; the limit is {} features", MAX_FEATURES)));
    }
    let names: Vec<String> = get("feature_names")?.split(' ').map(str::to_owned).collect();
    if names.len() != n_features {
        return Err(invalid(format!("{} feature names for {n_features} features", names.len())));
    }
    let objective = get("objective")?;
    let link = objective_link(objective)?;
    if link.is_none() != (num_class > 1) {
        return Err(invalid(format!("objective '{objective}' does not fit num_class {num_class}")));
    }
    let trees = blocks
        .enumerate()
        .map(|(i, block)| tree(block, n_features).map_err(|m| invalid(format!("tree {i}: {m}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if trees.is_empty() {
        return Err(invalid("the model has no trees"));
    }
    if trees.len() % num_class != 0 {
        return Err(invalid(format!("{} trees do not make whole iterations of {num_class} classes", trees.len())));
    }
    if num_class == 1 {
        let link = link.unwrap_or(Link::Identity);
        return Ok((Forest::Single(Ensemble::new(trees, 0.0, link, Precision::F64, n_features)), names));
    }
    // Trees take the classes in turn: tree i adds to class i % num_class.
    let mut by_class: Vec<Vec<Tree>> = vec![Vec::new(); num_class];
    for (i, tree) in trees.into_iter().enumerate() {
        by_class[i % num_class].push(tree);
    }
    let classes = by_class
        .into_iter()
        .map(|trees| Ensemble::new(trees, 0.0, Link::Identity, Precision::F64, n_features))
        .collect();
    Ok((Forest::Classes(classes), names))
}

/// The link of a one-output objective; `None` for softmax across classes.
fn objective_link(objective: &str) -> Result<Option<Link>, ModelError> {
    let mut parts = objective.split(' ');
    let name = parts.next().unwrap_or_default();
    let sigmoid = parts
        .find_map(|p| p.strip_prefix("sigmoid:"))
        .map(|v| v.parse::<f64>().map_err(|_| invalid(format!("objective '{objective}' has a bad sigmoid"))))
        .transpose()?
        .unwrap_or(1.0);
    match name {
        "binary" | "cross_entropy" | "xentropy" => Ok(Some(Link::Logistic(sigmoid))),
        "regression" | "regression_l2" | "regression_l1" | "huber" | "fair" | "quantile" | "mape" => {
            Ok(Some(Link::Identity))
        }
        "multiclass" | "softmax" => Ok(None),
        other => Err(ModelError::Unsupported { format: FORMAT, message: format!("objective '{other}'") }),
    }
}

fn fields(block: &str) -> HashMap<&str, &str> {
    block.lines().filter_map(|line| line.split_once('=')).collect()
}

fn numbers<T: std::str::FromStr>(map: &HashMap<&str, &str>, key: &str, len: usize) -> Result<Vec<T>, String> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let text = map.get(key).ok_or_else(|| format!("no '{key}'"))?;
    let values = text
        .split(' ')
        .map(|v| parse_number(v).ok_or_else(|| format!("'{key}' holds '{v}'")))
        .collect::<Result<Vec<T>, _>>()?;
    if values.len() != len {
        return Err(format!("'{key}' has {} values, expected {len}", values.len()));
    }
    Ok(values)
}

/// LightGBM writes infinities as `inf` / `-inf`.
fn parse_number<T: std::str::FromStr>(text: &str) -> Option<T> {
    text.parse().ok().or_else(|| match text {
        "inf" => "Infinity".parse().ok(),
        "-inf" => "-Infinity".parse().ok(),
        _ => None,
    })
}

fn tree(block: &str, n_features: usize) -> Result<Tree, String> {
    let map = fields(block);
    let leaves: usize = map.get("num_leaves").and_then(|v| v.parse().ok()).ok_or("no num_leaves")?;
    if leaves == 0 {
        return Err("num_leaves is 0".into());
    }
    if map.get("is_linear").is_some_and(|v| *v != "0") {
        return Err("linear trees are not supported".into());
    }
    let leaf_value: Vec<f64> = numbers(&map, "leaf_value", leaves)?;
    let leaf_count: Vec<f64> = numbers(&map, "leaf_count", leaves)?;
    if leaves == 1 {
        // Leaf values are stored already multiplied by the shrinkage.
        return Ok(Tree { nodes: vec![Node::Leaf { value: leaf_value[0], cover: leaf_count[0] }] });
    }
    let inner = leaves - 1;
    let split_feature: Vec<usize> = numbers(&map, "split_feature", inner)?;
    let threshold: Vec<f64> = numbers(&map, "threshold", inner)?;
    let decision_type: Vec<u8> = numbers(&map, "decision_type", inner)?;
    let left: Vec<i64> = numbers(&map, "left_child", inner)?;
    let right: Vec<i64> = numbers(&map, "right_child", inner)?;
    let internal_count: Vec<f64> = numbers(&map, "internal_count", inner)?;
    let num_cat: usize = map.get("num_cat").map_or(Ok(0), |v| v.parse()).map_err(|_| "bad num_cat")?;
    let (cat_boundaries, cat_threshold): (Vec<usize>, Vec<u32>) = if num_cat > 0 {
        let boundaries: Vec<usize> = numbers(&map, "cat_boundaries", num_cat.checked_add(1).ok_or("bad num_cat")?)?;
        let total = *boundaries.last().unwrap_or(&0);
        (boundaries, numbers(&map, "cat_threshold", total)?)
    } else {
        (Vec::new(), Vec::new())
    };

    // Internal nodes first (0..inner), then leaves (inner..inner+leaves); a child `c < 0` is leaf `!c`.
    let index = |c: i64| -> Result<usize, String> {
        if c >= 0 {
            usize::try_from(c).ok().filter(|&c| c < inner).ok_or(format!("child {c} outside the tree"))
        } else {
            let leaf = usize::try_from(!c).map_err(|_| format!("child {c}"))?;
            if leaf < leaves { Ok(inner + leaf) } else { Err(format!("leaf {leaf} outside the tree")) }
        }
    };
    let mut nodes = Vec::with_capacity(inner + leaves);
    for i in 0..inner {
        let kind = decision_type[i];
        let default_left = kind & 2 != 0;
        let missing = match (kind >> 2) & 3 {
            0 => LgbMissing::None,
            1 => LgbMissing::Zero,
            2 => LgbMissing::NaN,
            other => return Err(format!("node {i} has missing type {other}")),
        };
        let split = if kind & 1 != 0 {
            // The threshold of a categorical split is the index of its category set.
            let set = threshold[i];
            let missing_set = || format!("node {i}: category set {set} missing");
            if !(set >= 0.0 && set.fract() == 0.0 && set < cat_boundaries.len() as f64) {
                return Err(missing_set());
            }
            let cat = set as usize;
            let (start, end) = match cat_boundaries.get(cat..cat.saturating_add(2)) {
                Some(&[start, end]) => (start, end),
                _ => return Err(missing_set()),
            };
            let words = cat_threshold
                .get(start..end)
                .ok_or_else(|| format!("node {i}: category bits {start}..{end} missing"))?;
            Split::CategoriesLeft(words.to_vec())
        } else {
            Split::LessOrEqual { threshold: threshold[i], missing }
        };
        nodes.push(Node::Internal {
            feature: split_feature[i],
            split,
            default_left,
            left: index(left[i])?,
            right: index(right[i])?,
            cover: internal_count[i],
        });
    }
    for leaf in 0..leaves {
        nodes.push(Node::Leaf { value: leaf_value[leaf], cover: leaf_count[leaf] });
    }
    let tree = Tree { nodes };
    tree.check(n_features)?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use crate::{Model, ModelError, ModelFormat};

    /// Found by fuzzing: a categorical split naming a category set far out of range made the bounds overflow.
    #[test]
    fn a_category_set_out_of_range_is_refused() {
        let bytes = warden_testdata::read("models/fuzz/lightgbm_category_set_overflow.txt");
        let err = Model::load(ModelFormat::LightgbmText, &bytes).unwrap_err();
        assert!(matches!(err, ModelError::Invalid { .. }), "{err}");
    }
}

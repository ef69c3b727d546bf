//! XGBoost's native JSON model (`Booster.save_model("model.json")`, xgboost 1.6 to 3.x).

use crate::ModelError;
use crate::trees::{Ensemble, Forest, Link, MAX_CLASSES, MAX_FEATURES, Node, Precision, Split, Tree};
use serde::Deserialize;

const FORMAT: &str = "xgboost-json";

fn invalid(message: impl Into<String>) -> ModelError {
    ModelError::Invalid { format: FORMAT, message: message.into() }
}

fn unsupported(message: impl Into<String>) -> ModelError {
    ModelError::Unsupported { format: FORMAT, message: message.into() }
}

#[derive(Deserialize)]
struct File {
    learner: Learner,
}

#[derive(Deserialize)]
struct Learner {
    #[serde(default)]
    feature_names: Vec<String>,
    gradient_booster: Booster,
    learner_model_param: LearnerParam,
    objective: Objective,
}

#[derive(Deserialize)]
struct LearnerParam {
    base_score: String,
    #[serde(default)]
    num_class: Option<String>,
    num_feature: String,
    #[serde(default)]
    num_target: Option<String>,
}

#[derive(Deserialize)]
struct Objective {
    name: String,
}

#[derive(Deserialize)]
struct Booster {
    name: String,
    #[serde(default)]
    model: Option<GbTree>,
}

#[derive(Deserialize)]
struct GbTree {
    trees: Vec<JsonTree>,
    /// The class each tree adds to (all 0 for one output).
    #[serde(default)]
    tree_info: Vec<i64>,
}

#[derive(Deserialize)]
struct JsonTree {
    left_children: Vec<i64>,
    right_children: Vec<i64>,
    split_indices: Vec<i64>,
    split_conditions: Vec<f32>,
    default_left: Vec<u8>,
    sum_hessian: Vec<f32>,
    #[serde(default)]
    split_type: Vec<u8>,
    #[serde(default)]
    categories: Vec<u32>,
    #[serde(default)]
    categories_nodes: Vec<usize>,
    #[serde(default)]
    categories_segments: Vec<usize>,
    #[serde(default)]
    categories_sizes: Vec<usize>,
}

/// Parses `base_score`, written `"5E-1"` (2.x) or `"[5E-1]"` (3.x, one value per output): one value, or one
/// per class of a multiclass model.
fn base_scores(text: &str, outputs: usize) -> Result<Vec<f32>, ModelError> {
    let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
    let values = inner
        .split(',')
        .map(|v| v.trim().parse::<f32>().map_err(|_| invalid(format!("base_score '{text}' is not a number"))))
        .collect::<Result<Vec<_>, _>>()?;
    match values.len() {
        1 => Ok(vec![values[0]; outputs]),
        n if n == outputs => Ok(values),
        n => Err(invalid(format!("base_score has {n} values for {outputs} outputs"))),
    }
}

/// Parses a model; returns the ensemble and its feature names (when saved with them).
pub(crate) fn parse(bytes: &[u8]) -> Result<(Forest, Option<Vec<String>>), ModelError> {
    let file: File = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    from_file(file)
}

/// The same model saved as UBJSON (XGBoost's default from 2.1).
pub(crate) fn parse_ubj(bytes: &[u8]) -> Result<(Forest, Option<Vec<String>>), ModelError> {
    let value = crate::ubjson::to_value(bytes).map_err(|e| invalid(e.to_string()))?;
    let file: File = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    from_file(file)
}

fn from_file(file: File) -> Result<(Forest, Option<Vec<String>>), ModelError> {
    let learner = file.learner;
    if learner.gradient_booster.name != "gbtree" {
        return Err(unsupported(format!("booster '{}' (only gbtree is supported)", learner.gradient_booster.name)));
    }
    let count = |v: &Option<String>| v.as_deref().unwrap_or("0").parse::<u32>().unwrap_or(u32::MAX);
    if count(&learner.learner_model_param.num_target) > 1 {
        return Err(unsupported("models with several targets"));
    }
    let num_class = count(&learner.learner_model_param.num_class);
    let multiclass = matches!(learner.objective.name.as_str(), "multi:softprob" | "multi:softmax");
    if num_class > 1 && !multiclass || multiclass && !(2..=MAX_CLASSES as u32).contains(&num_class) {
        return Err(invalid(format!(
            "num_class {num_class} does not fit objective '{}' (multiclass models take 2 to {MAX_CLASSES} classes)",
            learner.objective.name
        )));
    }
    let n_features: usize =
        learner.learner_model_param.num_feature.parse().map_err(|_| invalid("num_feature is not a number"))?;
    if n_features > MAX_FEATURES {
        return Err(invalid(format!("num_feature is {n_features}; the limit is {MAX_FEATURES}")));
    }
    let outputs = if multiclass { num_class as usize } else { 1 };
    let bases = base_scores(&learner.learner_model_param.base_score, outputs)?;
    let base = bases[0];
    let (link, base_margin) = match learner.objective.name.as_str() {
        "binary:logistic" | "reg:logistic" => {
            if !(base > 0.0 && base < 1.0) {
                return Err(invalid(format!("base_score {base} is not a probability")));
            }
            // XGBoost computes the base margin in float32: -log(1/p - 1).
            let odds = 1.0f32 / base - 1.0f32;
            (Link::Logistic(1.0), -((odds as f64).ln() as f32) as f64)
        }
        "binary:logitraw" | "reg:squarederror" | "reg:linear" | "reg:absoluteerror" | "reg:pseudohubererror" => {
            (Link::Identity, base as f64)
        }
        // Softmax's base margin is the base score itself (XGBoost's identity ProbToMargin).
        "multi:softprob" | "multi:softmax" => (Link::Identity, base as f64),
        other => return Err(unsupported(format!("objective '{other}'"))),
    };
    let model = learner.gradient_booster.model.ok_or_else(|| invalid("gradient_booster has no model"))?;
    let trees = model
        .trees
        .iter()
        .enumerate()
        .map(|(i, t)| convert(t, n_features).map_err(|m| invalid(format!("tree {i}: {m}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let names = if learner.feature_names.is_empty() {
        None
    } else if learner.feature_names.len() == n_features {
        Some(learner.feature_names)
    } else {
        return Err(invalid(format!("{} feature names for {n_features} features", learner.feature_names.len())));
    };
    if !multiclass {
        return Ok((Forest::Single(Ensemble::new(trees, base_margin, link, Precision::F32, n_features)), names));
    }
    if model.tree_info.len() != trees.len() {
        return Err(invalid(format!("tree_info names {} classes for {} trees", model.tree_info.len(), trees.len())));
    }
    let mut by_class: Vec<Vec<Tree>> = vec![Vec::new(); outputs];
    for (tree, class) in trees.into_iter().zip(&model.tree_info) {
        let class = usize::try_from(*class)
            .ok()
            .filter(|c| *c < outputs)
            .ok_or_else(|| invalid(format!("tree_info names class {class} of {outputs}")))?;
        by_class[class].push(tree);
    }
    let classes = by_class
        .into_iter()
        .zip(bases)
        .map(|(trees, base)| Ensemble::new(trees, base as f64, Link::Identity, Precision::F32, n_features))
        .collect();
    Ok((Forest::Classes(classes), names))
}

fn convert(tree: &JsonTree, n_features: usize) -> Result<Tree, String> {
    let n = tree.left_children.len();
    let lengths = [
        tree.right_children.len(),
        tree.split_indices.len(),
        tree.split_conditions.len(),
        tree.default_left.len(),
        tree.sum_hessian.len(),
    ];
    if lengths.iter().any(|&len| len != n) || (!tree.split_type.is_empty() && tree.split_type.len() != n) {
        return Err("node arrays have different lengths".into());
    }
    let mut categories: Vec<Option<Vec<u32>>> = vec![None; n];
    for (k, &node) in tree.categories_nodes.iter().enumerate() {
        let (start, size) = (
            *tree.categories_segments.get(k).ok_or("categories_segments is too short")?,
            *tree.categories_sizes.get(k).ok_or("categories_sizes is too short")?,
        );
        let list = tree.categories.get(start..start + size).ok_or("category segment outside the list")?;
        let mut list = list.to_vec();
        list.sort_unstable();
        *categories.get_mut(node).ok_or("category node outside the tree")? = Some(list);
    }
    let mut nodes = Vec::with_capacity(n);
    #[allow(clippy::needless_range_loop)] // eight parallel arrays indexed by node
    for i in 0..n {
        let cover = tree.sum_hessian[i] as f64;
        if tree.left_children[i] == -1 {
            nodes.push(Node::Leaf { value: tree.split_conditions[i] as f64, cover });
            continue;
        }
        let child = |c: i64| usize::try_from(c).map_err(|_| format!("node {i} has child {c}"));
        let split = match tree.split_type.get(i).copied().unwrap_or(0) {
            0 => Split::Less(tree.split_conditions[i]),
            1 => Split::CategoriesRight(categories[i].take().ok_or(format!("categorical node {i} has no categories"))?),
            other => return Err(format!("node {i} has split type {other}")),
        };
        let feature = usize::try_from(tree.split_indices[i]).map_err(|_| format!("node {i} has a negative feature"))?;
        nodes.push(Node::Internal {
            feature,
            split,
            default_left: tree.default_left[i] != 0,
            left: child(tree.left_children[i])?,
            right: child(tree.right_children[i])?,
            cover,
        });
    }
    let tree = Tree { nodes };
    tree.check(n_features)?;
    Ok(tree)
}

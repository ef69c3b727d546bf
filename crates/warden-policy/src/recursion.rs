//! Refuses bundles whose rules or functions call themselves, directly or through others. Rego forbids
//! recursion (OPA: `rego_recursion_error`), but regorus evaluates a recursive function until the stack
//! overflows, which aborts the process; so a bundle is checked before anything of it is evaluated.
//!
//! The call graph links each rule to the rules its heads and bodies name: a bare name of a rule in the same
//! package, an imported name, or a `data.` path whose longest package prefix is a package of the bundle.
//! Walks use explicit stacks: a policy file may nest expressions as deep as its size allows.

use std::collections::{BTreeMap, BTreeSet};

use regorus::Value;
use regorus::unstable::{Expr, Literal, Module, Query, Rule, RuleHead};

use crate::PolicyError;

/// A rule: its package (dotted, without `data.`) and its name.
type RuleKey = (String, String);

enum Node<'a> {
    Expr(&'a Expr),
    Query(&'a Query),
}

/// The path a reference names (`data.warden.gate.deny` → its segments), if it is a plain reference.
fn ref_path(expr: &Expr) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    let mut current = expr;
    loop {
        match current {
            Expr::Var { value: Value::String(name), .. } => {
                segments.push(name.to_string());
                segments.reverse();
                return Some(segments);
            }
            Expr::RefDot { refr, field: (_, Value::String(field)), .. } => {
                segments.push(field.to_string());
                current = refr;
            }
            Expr::RefBrack { refr, index, .. } => {
                if let Expr::String { value: Value::String(field), .. } = &**index {
                    segments.push(field.to_string());
                } else {
                    segments.clear();
                }
                current = refr;
            }
            _ => return None,
        }
    }
}

/// Every reference path named anywhere below `roots`.
fn references<'a>(roots: Vec<Node<'a>>) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut stack = roots;
    while let Some(node) = stack.pop() {
        let expr = match node {
            Node::Query(query) => {
                for stmt in &query.stmts {
                    for with in &stmt.with_mods {
                        stack.push(Node::Expr(&with.refr));
                        stack.push(Node::Expr(&with.r#as));
                    }
                    match &stmt.literal {
                        Literal::SomeVars { .. } => {}
                        Literal::SomeIn { key, value, collection, .. } => {
                            stack.extend(key.iter().map(|k| Node::Expr(k)));
                            stack.push(Node::Expr(value));
                            stack.push(Node::Expr(collection));
                        }
                        Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => stack.push(Node::Expr(expr)),
                        Literal::Every { domain, query, .. } => {
                            stack.push(Node::Expr(domain));
                            stack.push(Node::Query(query));
                        }
                    }
                }
                continue;
            }
            Node::Expr(expr) => expr,
        };
        if let Some(path) = ref_path(expr) {
            found.push(path);
        }
        match expr {
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. }
            | Expr::Var { .. } => {}
            Expr::Array { items, .. } | Expr::Set { items, .. } => stack.extend(items.iter().map(|i| Node::Expr(i))),
            Expr::Object { fields, .. } => {
                for (_, key, value) in fields {
                    stack.push(Node::Expr(key));
                    stack.push(Node::Expr(value));
                }
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                stack.push(Node::Expr(term));
                stack.push(Node::Query(query));
            }
            Expr::ObjectCompr { key, value, query, .. } => {
                stack.push(Node::Expr(key));
                stack.push(Node::Expr(value));
                stack.push(Node::Query(query));
            }
            Expr::Call { fcn, params, .. } => {
                stack.push(Node::Expr(fcn));
                stack.extend(params.iter().map(|p| Node::Expr(p)));
            }
            Expr::UnaryExpr { expr, .. } => stack.push(Node::Expr(expr)),
            Expr::RefDot { refr, .. } => stack.push(Node::Expr(refr)),
            Expr::RefBrack { refr, index, .. } => {
                stack.push(Node::Expr(refr));
                stack.push(Node::Expr(index));
            }
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                stack.push(Node::Expr(lhs));
                stack.push(Node::Expr(rhs));
            }
            Expr::Membership { key, value, collection, .. } => {
                stack.extend(key.iter().map(|k| Node::Expr(k)));
                stack.push(Node::Expr(value));
                stack.push(Node::Expr(collection));
            }
        }
    }
    found
}

fn package_of(module: &Module) -> String {
    let path = ref_path(&module.package.refr).unwrap_or_default();
    let path = if path.first().map(String::as_str) == Some("data") { &path[1..] } else { &path[..] };
    path.join(".")
}

/// The rule's name (the first segment of its head) and everything its heads and bodies refer to.
fn rule_parts(rule: &Rule) -> Option<(String, Vec<Vec<String>>)> {
    let mut roots = Vec::new();
    let refr = match rule {
        Rule::Spec { head, bodies, .. } => {
            let refr = match head {
                RuleHead::Compr { refr, assign, .. } => {
                    roots.extend(assign.iter().map(|a| Node::Expr(&a.value)));
                    refr
                }
                RuleHead::Set { refr, key, .. } => {
                    roots.extend(key.iter().map(|k| Node::Expr(k)));
                    refr
                }
                RuleHead::Func { refr, args, assign, .. } => {
                    roots.extend(args.iter().map(|a| Node::Expr(a)));
                    roots.extend(assign.iter().map(|a| Node::Expr(&a.value)));
                    refr
                }
            };
            for body in bodies {
                roots.extend(body.assign.iter().map(|a| Node::Expr(&a.value)));
                roots.push(Node::Query(&body.query));
            }
            refr
        }
        Rule::Default { refr, args, value, .. } => {
            roots.extend(args.iter().map(|a| Node::Expr(a)));
            roots.push(Node::Expr(value));
            refr
        }
    };
    let name = ref_path(refr)?.into_iter().next()?;
    Some((name, references(roots)))
}

/// `Err` naming the first recursive rule and its cycle.
pub(crate) fn check(modules: &[impl std::ops::Deref<Target = Module>]) -> Result<(), PolicyError> {
    let mut rules: BTreeMap<RuleKey, BTreeSet<RuleKey>> = BTreeMap::new();
    let mut parts = Vec::new();
    for module in modules {
        let package = package_of(module);
        let imports: BTreeMap<String, Vec<String>> = module
            .imports
            .iter()
            .filter_map(|import| {
                let path = ref_path(&import.refr)?;
                let alias = import.r#as.as_ref().map(|s| s.text().to_owned()).or_else(|| path.last().cloned())?;
                Some((alias, path))
            })
            .collect();
        for rule in &module.policy {
            if let Some((name, refs)) = rule_parts(rule) {
                rules.entry((package.clone(), name.clone())).or_default();
                parts.push(((package.clone(), name), refs, imports.clone()));
            }
        }
    }
    let packages: BTreeSet<&str> = rules.keys().map(|(p, _)| p.as_str()).collect();
    let resolve = |package: &str, path: &[String], imports: &BTreeMap<String, Vec<String>>| -> Option<RuleKey> {
        let first = path.first()?;
        let full: Vec<String> = if first == "data" {
            path.to_vec()
        } else if let Some(imported) = imports.get(first) {
            imported.iter().chain(&path[1..]).cloned().collect()
        } else {
            return Some((package.to_owned(), first.clone()));
        };
        let after_data = full.get(1..)?;
        (1..after_data.len()).rev().find_map(|split| {
            let candidate = after_data[..split].join(".");
            packages.contains(candidate.as_str()).then(|| (candidate, after_data[split].clone()))
        })
    };
    let mut edges: BTreeMap<RuleKey, BTreeSet<RuleKey>> = BTreeMap::new();
    for (key, refs, imports) in &parts {
        for path in refs {
            if let Some(target) = resolve(&key.0, path, imports).filter(|t| rules.contains_key(t)) {
                edges.entry(key.clone()).or_default().insert(target);
            }
        }
    }
    // Depth-first search with an explicit stack; a grey node met again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: BTreeMap<&RuleKey, Colour> = rules.keys().map(|k| (k, Colour::White)).collect();
    let empty = BTreeSet::new();
    for start in rules.keys() {
        if colour[start] != Colour::White {
            continue;
        }
        let mut path: Vec<&RuleKey> = vec![start];
        let mut stack: Vec<std::collections::btree_set::Iter<'_, RuleKey>> =
            vec![edges.get(start).unwrap_or(&empty).iter()];
        colour.insert(start, Colour::Grey);
        while let Some(children) = stack.last_mut() {
            match children.next() {
                Some(next) => match colour[next] {
                    Colour::Grey => {
                        let from = path.iter().position(|k| *k == next).unwrap_or(0);
                        let cycle: Vec<String> =
                            path[from..].iter().chain([&next]).map(|(p, n)| format!("{p}.{n}")).collect();
                        return Err(PolicyError::Bundle(format!(
                            "rule {} is recursive ({}): Rego rules and functions may not call themselves",
                            cycle[0],
                            cycle.join(" -> ")
                        )));
                    }
                    Colour::White => {
                        colour.insert(next, Colour::Grey);
                        path.push(next);
                        stack.push(edges.get(next).unwrap_or(&empty).iter());
                    }
                    Colour::Black => {}
                },
                None => {
                    stack.pop();
                    if let Some(done) = path.pop() {
                        colour.insert(done, Colour::Black);
                    }
                }
            }
        }
    }
    Ok(())
}

//! What an alias history says happened: which version each alias served when (the lanes of the deployment
//! timeline) and the moves a reviewer must see (overrides, automatic rollbacks with their alert, manual
//! moves, withdrawals), as markers for the timeline and the monitoring charts.

use std::collections::BTreeMap;

use warden_oversight::alerts::alert_of_reason;
use warden_registry::auth::Principal;
use warden_store::metadata::AliasAssignment;

use super::charts::{LaneEvent, Marker, MarkerKind, Segment};

/// One alias move, read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Move<'a> {
    pub(crate) assignment: &'a AliasAssignment,
    pub(crate) kind: MarkerKind,
    /// The alert behind an automatic move, when its reason names it.
    pub(crate) alert: Option<i64>,
}

impl Move<'_> {
    /// A few words for the timeline ("override → v3", "rollback → v1 · alert 7").
    pub(crate) fn short(&self) -> String {
        let a = self.assignment;
        let to = a.version.map(|v| format!("v{v}"));
        let alert = self.alert.map(|id| format!(" · alert {id}")).unwrap_or_default();
        match (self.kind, to) {
            (MarkerKind::Override, Some(to)) => format!("override → {to}"),
            (MarkerKind::Rollback, Some(to)) => format!("rollback → {to}{alert}"),
            (MarkerKind::Promotion, Some(to)) => format!("promoted {to}"),
            (_, Some(to)) => format!("set → {to}"),
            (_, None) if self.alert.is_some() => format!("stopped{alert}"),
            (_, None) => "removed".into(),
        }
    }

    /// The whole story, for tooltips and the list under the timeline.
    pub(crate) fn describe(&self) -> String {
        let a = self.assignment;
        let what = match (self.kind, a.version) {
            (MarkerKind::Override, Some(v)) => {
                format!("{} → v{v} by override of the gate", a.alias)
            }
            (MarkerKind::Rollback, Some(v)) => format!("{} rolled back to v{v} automatically", a.alias),
            (MarkerKind::Promotion, Some(v)) => format!("{} → v{v} through the gate", a.alias),
            (_, Some(v)) => format!("{} → v{v} set by hand", a.alias),
            (_, None) => format!("{} removed", a.alias),
        };
        let mut text = format!("{what} by {}", a.assigned_by);
        if let Some(alert) = self.alert
            && !a.reason.contains(&format!("alert {alert}"))
        {
            text.push_str(&format!(" on alert {alert}"));
        }
        if let Some(decision) = &a.decision_id {
            text.push_str(&format!(" (gate decision {decision})"));
        }
        if !a.reason.is_empty() {
            text.push_str(": ");
            text.push_str(&a.reason);
        }
        text
    }
}

/// Reads one move: overrides and promotions carry a gate decision, Warden's own moves were taken on an alert,
/// anything else was a person's.
pub(crate) fn read(assignment: &AliasAssignment) -> Move<'_> {
    let automatic = assignment.assigned_by == Principal::system().actor();
    let kind = match (assignment.version, assignment.decision_id.is_some(), assignment.overridden) {
        (None, _, _) => MarkerKind::Removal,
        (Some(_), _, true) => MarkerKind::Override,
        (Some(_), true, false) => MarkerKind::Promotion,
        (Some(_), false, false) if automatic => MarkerKind::Rollback,
        (Some(_), false, false) => MarkerKind::ManualMove,
    };
    let alert = if automatic { alert_of_reason(&assignment.reason) } else { None };
    Move { assignment, kind, alert }
}

/// The moves a reviewer must see on a chart: every move but gated promotions (which the lanes show).
pub(crate) fn notable(history: &[AliasAssignment]) -> Vec<Move<'_>> {
    history.iter().map(read).filter(|m| m.kind != MarkerKind::Promotion).collect()
}

/// Markers for the monitoring charts: every move, promotions included (what served the traffic changed
/// there).
pub(crate) fn markers(history: &[AliasAssignment]) -> Vec<Marker> {
    history
        .iter()
        .map(read)
        .map(|m| Marker { at: m.assignment.assigned_at as f64, kind: m.kind, label: m.describe() })
        .collect()
}

/// One lane per alias (champion first, then by name), one segment per assignment until the next or `now`;
/// and the notable moves as events on their lanes.
pub(crate) fn lanes(history: &[AliasAssignment], now: f64) -> (Vec<(String, Vec<Segment>)>, Vec<LaneEvent>) {
    let mut lanes: BTreeMap<&str, Vec<Segment>> = BTreeMap::new();
    let mut open: BTreeMap<&str, (f64, i64)> = BTreeMap::new();
    for a in history {
        let at = a.assigned_at as f64;
        if let Some((from, version)) = open.remove(a.alias.as_str()) {
            lanes.entry(&a.alias).or_default().push(Segment { from, to: at, version: version.to_string() });
        }
        if let Some(version) = a.version {
            open.insert(&a.alias, (at, version));
        }
        lanes.entry(&a.alias).or_default();
    }
    for (alias, (from, version)) in open {
        lanes.entry(alias).or_default().push(Segment { from, to: now, version: version.to_string() });
    }
    let mut ordered: Vec<(String, Vec<Segment>)> = lanes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    ordered.sort_by_key(|(alias, _)| (alias != "champion", alias.clone()));
    let events = notable(history)
        .into_iter()
        .filter_map(|m| {
            let lane = ordered.iter().position(|(alias, _)| *alias == m.assignment.alias)?;
            Some(LaneEvent {
                lane,
                marker: Marker { at: m.assignment.assigned_at as f64, kind: m.kind, label: m.describe() },
                short: m.short(),
            })
        })
        .collect();
    (ordered, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(alias: &str, version: Option<i64>, at: i64) -> AliasAssignment {
        AliasAssignment {
            model_name: "m".into(),
            alias: alias.into(),
            version,
            assigned_at: at,
            assigned_by: "token:a".into(),
            reason: String::new(),
            traffic: None,
            decision_id: Some("d-1".into()),
            overridden: false,
        }
    }

    fn manual(alias: &str, version: Option<i64>, at: i64) -> AliasAssignment {
        AliasAssignment { decision_id: None, reason: "trying it".into(), ..assignment(alias, version, at) }
    }

    #[test]
    fn the_deployment_timeline_follows_every_move() {
        let history = [
            assignment("champion", Some(1), 0),
            manual("shadow", Some(2), 10),
            assignment("champion", Some(2), 20),
            manual("shadow", None, 20),
            assignment("champion", Some(1), 30),
        ];
        let (lanes, _) = lanes(&history, 40.0);
        assert_eq!(lanes[0].0, "champion", "champion first");
        let spans: Vec<(f64, f64, &str)> = lanes[0].1.iter().map(|s| (s.from, s.to, s.version.as_str())).collect();
        assert_eq!(spans, vec![(0.0, 20.0, "1"), (20.0, 30.0, "2"), (30.0, 40.0, "1")]);
        assert_eq!(lanes[1].0, "shadow");
        assert_eq!(lanes[1].1, vec![Segment { from: 10.0, to: 20.0, version: "2".into() }]);
    }

    #[test]
    fn overrides_rollbacks_and_manual_moves_are_told_apart() {
        let overridden = AliasAssignment {
            overridden: true,
            reason: "regulator deadline".into(),
            ..assignment("champion", Some(3), 30)
        };
        let rollback = AliasAssignment {
            assigned_by: Principal::system().actor(),
            decision_id: None,
            reason: "automatic rollback on alert 12: feature_drift of 'age'".into(),
            ..assignment("champion", Some(2), 40)
        };
        let stop = AliasAssignment {
            assigned_by: Principal::system().actor(),
            decision_id: None,
            reason: "automatic stop_canary on alert 13: score_drift of 'score'".into(),
            ..assignment("canary", None, 50)
        };
        let history = [
            assignment("champion", Some(2), 0),
            manual("canary", Some(4), 10),
            overridden.clone(),
            rollback.clone(),
            stop,
        ];
        let moves: Vec<(MarkerKind, Option<i64>, String)> =
            history.iter().map(read).map(|m| (m.kind, m.alert, m.short())).collect();
        assert_eq!(
            moves,
            vec![
                (MarkerKind::Promotion, None, "promoted v2".into()),
                (MarkerKind::ManualMove, None, "set → v4".into()),
                (MarkerKind::Override, None, "override → v3".into()),
                (MarkerKind::Rollback, Some(12), "rollback → v2 · alert 12".into()),
                (MarkerKind::Removal, Some(13), "stopped · alert 13".into()),
            ]
        );
        let told = read(&overridden).describe();
        assert!(told.contains("override") && told.contains("token:a") && told.contains("regulator deadline"));
        assert!(told.contains("d-1"), "the decision id: {told}");
        assert!(read(&rollback).describe().contains("alert 12"));
        assert_eq!(read(&rollback).describe().matches("alert 12").count(), 1, "said once");
        let (_, events) = lanes(&history, 60.0);
        assert_eq!(events.len(), 4, "every move but the gated promotion");
        assert_eq!(events.iter().map(|e| e.lane).collect::<Vec<_>>(), vec![1, 0, 0, 1], "on their alias's lane");
        let markers = markers(&history);
        assert_eq!(markers.len(), 5, "charts show promotions too");
        assert!(markers.iter().any(|m| m.kind == MarkerKind::Rollback && m.label.contains("alert 12")));
    }
}

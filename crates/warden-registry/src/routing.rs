/*!
Where notifications go beyond the alert webhook: receivers (a signed webhook, Slack, PagerDuty, Jira,
ServiceNow) and the rules routing events to them by event, model, risk tier and severity
(`serve --notification-routes FILE`, YAML or JSON).

```yaml
receivers:
  - {name: risk-slack, kind: slack, url: "https://hooks.slack.com/services/T0/B0/X"}
  - {name: on-call, kind: pagerduty, routing_key_file: /run/secrets/pagerduty}
  - {name: mrm-jira, kind: jira, url: "https://bank.atlassian.net", project: MRM, user: svc@bank.example,
     token_file: /run/secrets/jira}
routes:
  - {receivers: [on-call], severities: [critical], tiers: [high]}
  - {receivers: [risk-slack, mrm-jira], events: [alert_fired, version_promoted_by_override]}
```

A rule matches an event when every list it gives holds the event's value (an empty or absent list matches
anything); an event goes to every receiver of every rule it matches, once each. Secrets are read from files
(a Slack or webhook URL, itself a secret, from `url_file` as well as `url`). The file is read once, at start, within a budget (1 MiB, 64 receivers,
256 rules, 64 names a list), and refused whole, naming the place, when anything in it is wrong.
*/

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
pub use warden_core::{NotificationEvent, ReceiverKind, RiskTier, Severity};

use crate::{Error, Result};

/// Largest routes file read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most receivers a file names.
pub const MAX_RECEIVERS: usize = 64;
/// Most rules a file holds.
pub const MAX_RULES: usize = 256;
/// Most entries in one list of a rule.
pub const MAX_LIST: usize = 64;
/// PagerDuty's Events API v2 endpoint, the default for a `pagerduty` receiver.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A service notifications are sent to.
#[derive(Clone, PartialEq)]
pub struct Receiver {
    pub name: String,
    pub kind: ReceiverKind,
    /// Where to POST: the webhook or Slack URL, PagerDuty's events endpoint, or Jira's or ServiceNow's base URL.
    pub url: String,
    /// The webhook's signing secret, PagerDuty's routing key, Jira's API token or ServiceNow's password.
    pub secret: String,
    /// Jira and ServiceNow: the account the secret belongs to.
    pub user: Option<String>,
    /// Jira: the project key and issue type of the issues created.
    pub project: Option<String>,
    pub issue_type: String,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A rule: the events it takes, and where they go.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    pub receivers: Vec<String>,
    pub events: Vec<NotificationEvent>,
    pub models: Vec<String>,
    pub tiers: Vec<RiskTier>,
    pub severities: Vec<Severity>,
}

/// An event as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facets<'a> {
    pub event: NotificationEvent,
    pub model: Option<&'a str>,
    pub tier: Option<RiskTier>,
    pub severity: Option<Severity>,
}

impl Rule {
    /// Whether the rule takes the event: each list it gives holds the event's value (an event without a model,
    /// tier or severity matches only rules that give none).
    pub fn matches(&self, e: &Facets<'_>) -> bool {
        fn holds<T: PartialEq>(list: &[T], value: Option<T>) -> bool {
            list.is_empty() || value.is_some_and(|v| list.contains(&v))
        }
        holds(&self.events, Some(e.event))
            && (self.models.is_empty() || e.model.is_some_and(|m| self.models.iter().any(|n| n == m)))
            && holds(&self.tiers, e.tier)
            && holds(&self.severities, e.severity)
    }
}

/// The receivers and the rules.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Routes {
    pub receivers: Vec<Receiver>,
    pub rules: Vec<Rule>,
}

impl Routes {
    /// The receivers an event goes to, each once, in the file's order.
    pub fn receivers_for(&self, e: &Facets<'_>) -> Vec<&Receiver> {
        let names: BTreeSet<&str> =
            self.rules.iter().filter(|r| r.matches(e)).flat_map(|r| r.receivers.iter().map(String::as_str)).collect();
        self.receivers.iter().filter(|r| names.contains(r.name.as_str())).collect()
    }

    /// Reads a routes file; secrets named by `*_file` are read relative to the working directory.
    pub fn load(path: &Path) -> Result<Routes> {
        let fail = |message: String| Error::invalid(format!("{}: {message}", path.display()));
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io(format!("cannot read the notification routes {}", path.display()), e))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(fail(format!("{size} bytes is over the {MAX_FILE_BYTES}-byte limit")));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read the notification routes {}", path.display()), e))?;
        Routes::parse(&text, &|file: &Path| {
            std::fs::read_to_string(file)
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("cannot read {}: {e}", file.display()))
        })
        .map_err(fail)
    }

    /// Parses routes text, reading secrets through `secret` (a file path to its trimmed contents).
    pub fn parse(
        text: &str,
        secret: &dyn Fn(&Path) -> std::result::Result<String, String>,
    ) -> std::result::Result<Routes, String> {
        let file: FileRoutes = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if file.receivers.len() > MAX_RECEIVERS {
            return Err(format!("receivers: at most {MAX_RECEIVERS}"));
        }
        if file.routes.len() > MAX_RULES {
            return Err(format!("routes: at most {MAX_RULES} rules"));
        }
        let mut receivers: Vec<Receiver> = Vec::new();
        for (i, r) in file.receivers.into_iter().enumerate() {
            let at = format!("receivers[{i}]");
            crate::registry::validate_name("receiver", &r.name).map_err(|e| format!("{at}.name: {e}"))?;
            if receivers.iter().any(|known| known.name == r.name) {
                return Err(format!("{at}.name: '{}' is named twice", r.name));
            }
            // A Slack or webhook URL is itself a secret: it may come from a file too.
            let url = match (r.kind, r.url, r.url_file) {
                (_, Some(_), Some(_)) => return Err(format!("{at}: url or url_file, not both")),
                (_, None, Some(file)) => secret(Path::new(&file)).map_err(|e| format!("{at}.url_file: {e}"))?,
                (ReceiverKind::Pagerduty, None, None) => PAGERDUTY_EVENTS_URL.to_owned(),
                (_, Some(url), None) => url,
                (kind, None, None) => return Err(format!("{at}.url: a {kind} receiver names its URL (or url_file)")),
            };
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
                return Err(format!("{at}.url: not an http(s) URL"));
            }
            let (secret_field, needed) = match r.kind {
                ReceiverKind::Webhook => ("secret_file", true),
                ReceiverKind::Slack => ("secret_file", false),
                ReceiverKind::Pagerduty => ("routing_key_file", true),
                ReceiverKind::Jira => ("token_file", true),
                ReceiverKind::Servicenow => ("password_file", true),
            };
            let file = match r.kind {
                ReceiverKind::Webhook | ReceiverKind::Slack => r.secret_file,
                ReceiverKind::Pagerduty => r.routing_key_file,
                ReceiverKind::Jira => r.token_file,
                ReceiverKind::Servicenow => r.password_file,
            };
            let secret = match file {
                Some(file) => secret(Path::new(&file)).map_err(|e| format!("{at}.{secret_field}: {e}"))?,
                None if needed => return Err(format!("{at}.{secret_field}: a {} receiver needs it", r.kind)),
                None => String::new(),
            };
            if needed && secret.is_empty() {
                return Err(format!("{at}.{secret_field}: the file is empty"));
            }
            if r.kind == ReceiverKind::Pagerduty && secret.len() != 32 {
                return Err(format!("{at}.routing_key_file: a PagerDuty integration key has 32 characters"));
            }
            if matches!(r.kind, ReceiverKind::Jira | ReceiverKind::Servicenow)
                && r.user.as_deref().is_none_or(str::is_empty)
            {
                return Err(format!("{at}.user: a {} receiver names the account its secret belongs to", r.kind));
            }
            if r.kind == ReceiverKind::Jira && r.project.as_deref().is_none_or(str::is_empty) {
                return Err(format!("{at}.project: a jira receiver names the project its issues go to"));
            }
            receivers.push(Receiver {
                name: r.name,
                kind: r.kind,
                url: url.trim_end_matches('/').to_owned(),
                secret,
                user: r.user,
                project: r.project,
                issue_type: r.issue_type.unwrap_or_else(|| "Task".to_owned()),
            });
        }
        let mut rules = Vec::new();
        for (i, r) in file.routes.into_iter().enumerate() {
            let at = format!("routes[{i}]");
            if r.receivers.is_empty() {
                return Err(format!("{at}.receivers: a rule sends to at least one receiver"));
            }
            for (list, len) in [
                ("receivers", r.receivers.len()),
                ("events", r.events.len()),
                ("models", r.models.len()),
                ("tiers", r.tiers.len()),
                ("severities", r.severities.len()),
            ] {
                if len > MAX_LIST {
                    return Err(format!("{at}.{list}: at most {MAX_LIST} entries"));
                }
            }
            if let Some(unknown) = r.receivers.iter().find(|n| !receivers.iter().any(|k| &k.name == *n)) {
                return Err(format!("{at}.receivers: no receiver is named '{unknown}'"));
            }
            rules.push(Rule {
                receivers: r.receivers,
                events: r.events,
                models: r.models,
                tiers: r.tiers,
                severities: r.severities,
            });
        }
        Ok(Routes { receivers, rules })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoutes {
    #[serde(default)]
    receivers: Vec<FileReceiver>,
    #[serde(default)]
    routes: Vec<FileRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReceiver {
    name: String,
    kind: ReceiverKind,
    url: Option<String>,
    url_file: Option<String>,
    secret_file: Option<String>,
    routing_key_file: Option<String>,
    token_file: Option<String>,
    password_file: Option<String>,
    user: Option<String>,
    project: Option<String>,
    issue_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    receivers: Vec<String>,
    #[serde(default)]
    events: Vec<NotificationEvent>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    tiers: Vec<RiskTier>,
    #[serde(default)]
    severities: Vec<Severity>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(path: &Path) -> std::result::Result<String, String> {
        match path.to_str() {
            Some("pd") => Ok("0123456789abcdef0123456789abcdef".into()),
            Some("short") => Ok("abc".into()),
            Some("empty") => Ok(String::new()),
            Some(other) => Ok(format!("secret-{other}")),
            None => Err("no".into()),
        }
    }

    const FILE: &str = r#"
receivers:
  - {name: slack, kind: slack, url: "https://hooks.slack.com/services/T/B/X"}
  - {name: pd, kind: pagerduty, routing_key_file: pd}
  - {name: jira, kind: jira, url: "https://bank.atlassian.net/", project: MRM, user: svc, token_file: jira}
routes:
  - {receivers: [pd], severities: [critical], tiers: [high]}
  - {receivers: [slack, jira], events: [alert_fired, version_promoted_by_override]}
  - {receivers: [slack], models: [credit]}
"#;

    #[test]
    fn events_go_to_every_receiver_of_every_rule_they_match_once() {
        let routes = Routes::parse(FILE, &secrets).unwrap();
        assert_eq!(routes.receivers[2].url, "https://bank.atlassian.net", "no trailing slash");
        assert_eq!(routes.receivers[1].url, PAGERDUTY_EVENTS_URL);
        let names = |e: Facets<'_>| routes.receivers_for(&e).iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let fired = |model, tier, severity| Facets {
            event: NotificationEvent::AlertFired,
            model: Some(model),
            tier: Some(tier),
            severity: Some(severity),
        };
        assert_eq!(names(fired("credit", RiskTier::High, Severity::Critical)), ["slack", "pd", "jira"]);
        assert_eq!(names(fired("fraud", RiskTier::Medium, Severity::Warning)), ["slack", "jira"]);
        let resolved = Facets {
            event: NotificationEvent::AlertResolved,
            model: Some("fraud"),
            tier: Some(RiskTier::High),
            severity: Some(Severity::Critical),
        };
        assert_eq!(names(resolved), ["pd"]);
        let registered = Facets {
            event: NotificationEvent::VersionRegistered,
            model: Some("fraud"),
            tier: Some(RiskTier::Low),
            severity: None,
        };
        assert!(names(registered).is_empty());
    }

    #[test]
    fn a_wrong_file_is_refused_naming_the_place() {
        let refused = |text: &str| Routes::parse(text, &secrets).unwrap_err();
        assert!(refused("receivers: [{name: a, kind: email, url: 'https://x'}]").contains("unknown variant `email`"));
        assert!(
            refused("receivers: [{name: a, kind: webhook, url: 'https://x'}]").contains("receivers[0].secret_file")
        );
        assert!(refused("receivers: [{name: a, kind: pagerduty, routing_key_file: short}]").contains("32 characters"));
        assert!(refused("receivers: [{name: a, kind: slack, url: 'ftp://x'}]").contains("receivers[0].url"));
        assert!(refused("receivers: [{name: a, kind: slack, url: 'https://x', url_file: u}]").contains("not both"));
        let from_file = Routes::parse("receivers: [{name: a, kind: slack, url_file: hook}]", &|_| {
            Ok("https://hooks.example/T/B/X".into())
        });
        assert_eq!(from_file.unwrap().receivers[0].url, "https://hooks.example/T/B/X");
        assert!(
            refused("receivers: [{name: a, kind: jira, url: 'https://x', token_file: t, user: u}]")
                .contains(".project")
        );
        let twice = "receivers: [{name: a, kind: slack, url: 'https://x'}, {name: a, kind: slack, url: 'https://y'}]";
        assert!(refused(twice).contains("receivers[1].name: 'a' is named twice"));
        assert!(
            refused("routes: [{receivers: [nobody]}]").contains("routes[0].receivers: no receiver is named 'nobody'")
        );
        assert!(refused("routes: [{receivers: []}]").contains("at least one receiver"));
        let bad_event =
            "receivers: [{name: a, kind: slack, url: 'https://x'}]\nroutes: [{receivers: [a], events: [lunch]}]";
        assert!(refused(bad_event).contains("unknown variant `lunch`"));
        assert!(
            refused("receivers: [{name: a, kind: slack, url: 'https://x', colour: red}]")
                .contains("unknown field `colour`")
        );
        let many = format!("routes: [{}]", vec!["{receivers: [a]}"; MAX_RULES + 1].join(", "));
        assert!(refused(&many).contains("at most 256 rules"));
    }

    #[test]
    fn a_file_over_the_size_budget_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.yaml");
        std::fs::write(&path, format!("# {}\n", "x".repeat(MAX_FILE_BYTES as usize))).unwrap();
        let refused = Routes::load(&path).unwrap_err().to_string();
        assert!(refused.contains("routes.yaml") && refused.contains("over the 1048576-byte limit"), "{refused}");
        std::fs::write(&path, "routes: []\n").unwrap();
        assert_eq!(Routes::load(&path).unwrap(), Routes::default());
    }
}

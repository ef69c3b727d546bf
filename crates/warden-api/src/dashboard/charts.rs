//! Charts drawn on the server as inline SVG: no script, no network, printable, and cheap to render (a chart
//! is a few hundred elements). Pure functions of their data; the pages decide what to show.

use std::fmt::Write;

use maud::{Markup, PreEscaped};
use warden_core::Timestamp;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// Series colours (colour-blind safe, Okabe–Ito).
pub(crate) const PALETTE: [&str; 6] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];

/// A horizontal band drawn behind a series (warn and alert thresholds).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Threshold {
    pub(crate) value: f64,
    pub(crate) label: &'static str,
    pub(crate) colour: &'static str,
}

/// One line of a line chart.
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) points: Vec<(f64, f64)>,
}

/// How to label the x axis.
#[derive(Debug, Clone, Copy)]
pub(crate) enum XAxis {
    /// Microseconds since the epoch, labelled as dates.
    Time,
    /// Plain numbers.
    Number,
}

struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn new(x: (f64, f64), y: (f64, f64)) -> Frame {
        let widen = |(lo, hi): (f64, f64)| if hi > lo { (lo, hi) } else { (lo - 0.5, hi + 0.5) };
        Frame { x: widen(x), y: widen(y) }
    }
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        HEIGHT - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (HEIGHT - TOP - BOTTOM)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A readable number: at most four significant digits.
pub(crate) fn number(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(0.001..1e6).contains(&magnitude) {
        format!("{value:.2e}")
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// An axis tick: the month and day over spans of days, else the hour and minute (a shortened [`Timestamp`]).
fn date_label(micros: f64, span_micros: f64) -> String {
    let Some(at) = Timestamp::from(micros as i64).to_datetime() else {
        return String::new();
    };
    if span_micros > 2.0 * 86_400e6 {
        format!("{:02}-{:02}", at.month() as u8, at.day())
    } else {
        format!("{:02}:{:02}", at.hour(), at.minute())
    }
}

fn open(svg: &mut String, title: &str) {
    open_sized(svg, "chart", HEIGHT, title);
}

/// The `<svg>` element of a chart of class `class` and height `height`, titled for screen readers.
fn open_sized(svg: &mut String, class: &str, height: f64, title: &str) {
    let _ = write!(
        svg,
        r#"<svg class="{class}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
}

fn axes(svg: &mut String, frame: &Frame, x_axis: XAxis) {
    axes_y_only(svg, frame);
    let span = frame.x.1 - frame.x.0;
    for i in 0..=4 {
        let x = frame.x.0 + span * i as f64 / 4.0;
        let label = match x_axis {
            XAxis::Time => date_label(x, span),
            XAxis::Number => number(x),
        };
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="{anchor}" class="tick">{}</text>"#,
            frame.px(x),
            HEIGHT - BOTTOM + 16.0,
            escape(&label)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}" stroke="#9aa3ad"/><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#9aa3ad"/>"##,
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        HEIGHT - BOTTOM
    );
}

fn polyline(svg: &mut String, frame: &Frame, points: &[(f64, f64)], colour: &str, extra: &str) {
    if points.is_empty() {
        return;
    }
    let mut path = String::with_capacity(points.len() * 14);
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = write!(path, "{}{:.1},{:.1}", if i == 0 { "M" } else { "L" }, frame.px(*x), frame.py(*y));
    }
    let _ = write!(svg, r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.8" {extra}/>"#);
    if points.len() == 1 {
        let (x, y) = points[0];
        let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#, frame.px(x), frame.py(y));
    }
}

fn legend(svg: &mut String, names: &[(&str, &str)]) {
    let mut x = LEFT + 8.0;
    for (name, colour) in names {
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{}" class="legend">{}</text>"#,
            TOP + 2.0,
            x + 14.0,
            TOP + 11.0,
            escape(name)
        );
        x += 24.0 + 6.5 * name.len() as f64;
    }
}

fn close(mut svg: String) -> Markup {
    svg.push_str("</svg>");
    PreEscaped(svg)
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A line chart over time or numbers, with threshold lines and vertical markers (alerts).
pub(crate) fn line_chart(
    title: &str,
    series: &[Series<'_>],
    thresholds: &[Threshold],
    markers: &[(f64, &str)],
    x_axis: XAxis,
) -> Markup {
    let mut svg = String::new();
    open(&mut svg, title);
    let xs = bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).chain(markers.iter().map(|m| m.0)));
    let ys = bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).chain(thresholds.iter().map(|t| t.value)));
    let (Some(x), Some(mut y)) = (xs, ys) else {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="empty">no data yet</text>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return close(svg);
    };
    if y.0 > 0.0 && y.0 < (y.1 - y.0) {
        y.0 = 0.0;
    }
    let pad = (y.1 - y.0) * 0.08;
    let frame = Frame::new(x, (y.0 - if y.0 == 0.0 { 0.0 } else { pad }, y.1 + pad));
    axes(&mut svg, &frame, x_axis);
    for t in thresholds {
        threshold_line(&mut svg, &frame, t);
    }
    for (x, label) in markers {
        let px = frame.px(*x);
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{}" stroke="#c0392b" stroke-width="1.2" class="marker"><title>{}</title></line><path d="M{:.1},{TOP}l5,-8h-10z" fill="#c0392b"/>"##,
            HEIGHT - BOTTOM,
            escape(label),
            px
        );
    }
    for (i, s) in series.iter().enumerate() {
        polyline(&mut svg, &frame, &s.points, PALETTE[i % PALETTE.len()], "");
    }
    if series.len() > 1 {
        let names: Vec<(&str, &str)> =
            series.iter().enumerate().map(|(i, s)| (s.name, PALETTE[i % PALETTE.len()])).collect();
        legend(&mut svg, &names);
    }
    close(svg)
}

/// A curve on the unit square with its diagonal (ROC, reliability).
pub(crate) fn unit_curve(title: &str, points: &[(f64, f64)], x_label: &str, y_label: &str) -> Markup {
    let mut svg = String::new();
    open(&mut svg, title);
    let frame = Frame::new((0.0, 1.0), (0.0, 1.0));
    axes(&mut svg, &frame, XAxis::Number);
    polyline(&mut svg, &frame, &[(0.0, 0.0), (1.0, 1.0)], "#9aa3ad", r#"stroke-dasharray="4 4""#);
    polyline(&mut svg, &frame, points, PALETTE[0], "");
    for (x, y) in points.iter().filter(|_| points.len() <= 20) {
        let _ =
            write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#, frame.px(*x), frame.py(*y), PALETTE[0]);
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end" class="axis">{}</text><text x="{}" y="{}" class="axis">{}</text>"#,
        WIDTH - RIGHT,
        HEIGHT - 2.0,
        escape(x_label),
        LEFT + 4.0,
        TOP + 10.0,
        escape(y_label)
    );
    close(svg)
}

/// Grouped vertical bars: one group per label, one bar per series.
pub(crate) fn bar_chart(
    title: &str,
    labels: &[String],
    series: &[(&str, Vec<f64>)],
    reference: Option<Threshold>,
) -> Markup {
    let mut svg = String::new();
    open(&mut svg, title);
    let top =
        bounds(series.iter().flat_map(|s| s.1.iter().copied()).chain(reference.map(|r| r.value))).map_or(1.0, |b| b.1);
    let frame = Frame::new((0.0, labels.len().max(1) as f64), (0.0, if top > 0.0 { top * 1.1 } else { 1.0 }));
    axes_y_only(&mut svg, &frame);
    let group = (WIDTH - LEFT - RIGHT) / labels.len().max(1) as f64;
    let bar = (group * 0.8 / series.len().max(1) as f64).min(40.0);
    for (g, label) in labels.iter().enumerate() {
        let start = LEFT + group * g as f64 + (group - bar * series.len() as f64) / 2.0;
        for (s, (name, values)) in series.iter().enumerate() {
            let Some(&value) = values.get(g) else { continue };
            let (x, y) = (start + bar * s as f64, frame.py(value));
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                bar - 1.0,
                (HEIGHT - BOTTOM - y).max(0.0),
                PALETTE[s % PALETTE.len()],
                escape(label),
                escape(name),
                number(value)
            );
        }
        let short: String = label.chars().take(14).collect();
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"#,
            LEFT + group * (g as f64 + 0.5),
            HEIGHT - BOTTOM + 16.0,
            escape(&short)
        );
    }
    if let Some(r) = reference {
        threshold_line(&mut svg, &frame, &r);
    }
    if series.len() > 1 {
        let names: Vec<(&str, &str)> =
            series.iter().enumerate().map(|(i, s)| (s.0, PALETTE[i % PALETTE.len()])).collect();
        legend(&mut svg, &names);
    }
    close(svg)
}

/// A dashed horizontal line at a threshold, labelled at the right.
fn threshold_line(svg: &mut String, frame: &Frame, t: &Threshold) {
    let py = frame.py(t.value);
    let _ = write!(
        svg,
        r#"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="{}" stroke-dasharray="5 4"/><text x="{}" y="{:.1}" text-anchor="end" class="band" fill="{}">{}</text>"#,
        WIDTH - RIGHT,
        t.colour,
        WIDTH - RIGHT - 2.0,
        py - 3.0,
        t.colour,
        t.label
    );
}

fn axes_y_only(svg: &mut String, frame: &Frame) {
    for i in 0..=4 {
        let y = frame.y.0 + (frame.y.1 - frame.y.0) * i as f64 / 4.0;
        let py = frame.py(y);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#e3e6ea"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 4.0,
            py + 3.5,
            number(y)
        );
    }
}

/// A heat map: one row per name, one column per time slice; cells coloured by value against `alert`.
pub(crate) fn heat_map(
    title: &str,
    rows: &[(String, Vec<Option<f64>>)],
    columns: &[f64],
    warn: f64,
    alert: f64,
) -> Markup {
    const ROW: f64 = 18.0;
    const LABEL: f64 = 150.0;
    let height = TOP + ROW * rows.len().max(1) as f64 + BOTTOM;
    let mut svg = String::new();
    open_sized(&mut svg, "chart heat", height, title);
    if rows.is_empty() || columns.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="empty">no data yet</text>"#,
            WIDTH / 2.0,
            TOP + ROW
        );
        return close(svg);
    }
    let cell = (WIDTH - LABEL - RIGHT) / columns.len() as f64;
    for (r, (name, values)) in rows.iter().enumerate() {
        let y = TOP + ROW * r as f64;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
            LABEL - 6.0,
            y + ROW * 0.7,
            escape(name)
        );
        for (c, value) in values.iter().enumerate() {
            let colour = match value {
                None => "#f1f3f5".to_owned(),
                Some(v) => heat_colour(*v, warn, alert),
            };
            let tip = value.map_or_else(|| "no value".to_owned(), number);
            let _ = write!(
                svg,
                r#"<rect x="{:.2}" y="{y:.1}" width="{:.2}" height="{}" fill="{colour}"><title>{}: {tip}</title></rect>"#,
                LABEL + cell * c as f64,
                cell + 0.05,
                ROW - 2.0,
                escape(name)
            );
        }
    }
    let span = columns[columns.len() - 1] - columns[0];
    for i in [0, columns.len() / 2, columns.len() - 1] {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
            LABEL + cell * (i as f64 + 0.5),
            height - BOTTOM + 16.0,
            escape(&date_label(columns[i], span))
        );
    }
    close(svg)
}

/// White below half the warn level, through amber at warn, to red at alert and beyond.
fn heat_colour(value: f64, warn: f64, alert: f64) -> String {
    let mix = |a: (f64, f64, f64), b: (f64, f64, f64), t: f64| {
        let t = t.clamp(0.0, 1.0);
        format!(
            "#{:02x}{:02x}{:02x}",
            (a.0 + (b.0 - a.0) * t) as u8,
            (a.1 + (b.1 - a.1) * t) as u8,
            (a.2 + (b.2 - a.2) * t) as u8
        )
    };
    let (white, amber, red) = ((255.0, 255.0, 255.0), (244.0, 190.0, 60.0), (200.0, 40.0, 40.0));
    if value <= warn {
        mix(white, amber, value / warn.max(1e-12))
    } else {
        mix(amber, red, (value - warn) / (alert - warn).max(1e-12))
    }
}

/// Which version each alias served when: one lane per alias, one segment per assignment.
pub(crate) fn timeline(title: &str, lanes: &[(String, Vec<(f64, f64, String)>)], now: f64) -> Markup {
    const LANE: f64 = 26.0;
    const LABEL: f64 = 90.0;
    let height = TOP + LANE * lanes.len().max(1) as f64 + BOTTOM;
    let mut svg = String::new();
    open_sized(&mut svg, "chart timeline", height, title);
    let start = lanes.iter().flat_map(|l| l.1.iter().map(|s| s.0)).fold(f64::INFINITY, f64::min);
    if !start.is_finite() {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="empty">never deployed</text>"#,
            WIDTH / 2.0,
            TOP + LANE
        );
        return close(svg);
    }
    let span = (now - start).max(1.0);
    let px = |t: f64| LABEL + (t - start) / span * (WIDTH - LABEL - RIGHT);
    let mut versions: Vec<&str> = lanes.iter().flat_map(|l| l.1.iter().map(|s| s.2.as_str())).collect();
    versions.sort();
    versions.dedup();
    for (l, (alias, segments)) in lanes.iter().enumerate() {
        let y = TOP + LANE * l as f64;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
            LABEL - 6.0,
            y + LANE * 0.6,
            escape(alias)
        );
        for (from, to, version) in segments {
            let colour = PALETTE[versions.iter().position(|v| v == version).unwrap_or(0) % PALETTE.len()];
            let (x0, x1) = (px(*from), px(*to));
            let _ = write!(
                svg,
                r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}" rx="3"><title>{alias}: version {version}</title></rect>"#,
                y + 3.0,
                (x1 - x0).max(2.0),
                LANE - 6.0
            );
            if x1 - x0 > 26.0 {
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" class="on-bar">v{}</text>"#,
                    x0 + 4.0,
                    y + LANE * 0.62,
                    escape(version)
                );
            }
        }
    }
    for (i, t) in [start, start + span / 2.0, now].iter().enumerate() {
        let anchor = ["start", "middle", "end"][i];
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}" class="tick">{}</text>"#,
            px(*t),
            height - BOTTOM + 16.0,
            escape(&date_label(*t, span))
        );
    }
    close(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(0.1000001), "0.1");
        assert_eq!(number(1234.6), "1235");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.00001234), "1.23e-5");
        assert_eq!(number(f64::NAN), "–");
    }

    #[test]
    fn a_line_chart_draws_its_series_thresholds_and_markers_and_escapes_text() {
        let series = [Series { name: "psi <age>", points: vec![(0.0, 0.1), (1.0, 0.3), (2.0, 0.2)] }];
        let warn = Threshold { value: 0.1, label: "warn", colour: "#e69f00" };
        let svg = line_chart("drift & more", &series, &[warn], &[(1.0, "alert 7")], XAxis::Number).0;
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("drift &amp; more") && !svg.contains("drift & more"));
        assert_eq!(svg.matches("stroke-width=\"1.8\"").count(), 1, "one series line");
        assert!(svg.contains("stroke-dasharray=\"5 4\""), "threshold line");
        assert!(svg.contains("<title>alert 7</title>"), "marker");
    }

    #[test]
    fn empty_charts_say_so() {
        assert!(line_chart("x", &[], &[], &[], XAxis::Time).0.contains("no data yet"));
        assert!(heat_map("x", &[], &[], 0.1, 0.2).0.contains("no data yet"));
        assert!(timeline("x", &[], 0.0).0.contains("never deployed"));
    }

    #[test]
    fn heat_colours_run_from_white_through_amber_to_red() {
        assert_eq!(heat_colour(0.0, 0.1, 0.25), "#ffffff");
        assert_eq!(heat_colour(0.1, 0.1, 0.25), "#f4be3c");
        assert_eq!(heat_colour(1.0, 0.1, 0.25), "#c82828");
    }

    #[test]
    fn a_heat_map_has_a_cell_per_value() {
        let rows =
            vec![("age".to_owned(), vec![Some(0.01), None, Some(0.4)]), ("sex".to_owned(), vec![None, None, None])];
        let svg = heat_map("drift", &rows, &[0.0, 1e6, 2e6], 0.1, 0.25).0;
        assert_eq!(svg.matches("<rect").count(), 6);
        assert!(svg.contains("no value"));
    }
}

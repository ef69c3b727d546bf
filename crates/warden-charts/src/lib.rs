//! Charts drawn on the server as inline SVG: no script, no network, printable, and cheap to render (a chart
//! is a few hundred elements). Pure functions of their data; the pages decide what to show.
//!
//! Axes read as people expect: numeric ticks at round numbers (steps of 1, 2 or 5 times a power of ten),
//! time ticks at round times with a format that fits the step (milliseconds to years, the date written
//! once under a run of clock times), labels sized and spread so that none overlaps or is clipped (a name cut
//! short keeps its whole text as a tooltip). Every text is escaped.

use std::fmt::Write;

use maud::{Markup, PreEscaped};
use time::{Date, Month, OffsetDateTime, Time};
use warden_core::Timestamp;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 14.0;
/// Room under a plot: the tick labels and the line of dates under them.
const BOTTOM: f64 = 36.0;
/// The width of one character of a 10 px tick label (system sans-serif; digits are narrower, capitals wider).
const CHAR: f64 = 6.0;
/// Height of the legend row under a chart.
const LEGEND_ROW: f64 = 18.0;

/// The warning and alert bands' colours.
pub const WARN: &str = "#E69F00";
pub const ALERT: &str = "#C0392B";

/// Series colours (colour-blind safe, Okabe–Ito).
pub const PALETTE: [&str; 6] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];

/// A horizontal band drawn behind a series (warn and alert thresholds).
#[derive(Debug, Clone, Copy)]
pub struct Threshold {
    pub value: f64,
    pub label: &'static str,
    pub colour: &'static str,
}

/// One line of a line chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// How to label the x axis.
#[derive(Debug, Clone, Copy)]
pub enum XAxis {
    /// Microseconds since the epoch, labelled as dates.
    Time,
    /// Plain numbers.
    Number,
}

/// What a vertical marker on a chart (or an event on the deployment timeline) records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkerKind {
    /// An alert opened.
    Alert,
    /// Warden rolled the champion back on an alert.
    Rollback,
    /// A production alias moved against the gate by an administrator's override.
    Override,
    /// A person moved an alias outside the gate (canary, shadow, challenger).
    ManualMove,
    /// A promotion the gate allowed.
    Promotion,
    /// An alias taken away (a withdrawal, a stopped canary, an alias unset).
    Removal,
}

impl MarkerKind {
    fn colour(self) -> &'static str {
        match self {
            MarkerKind::Alert => "#C0392B",
            MarkerKind::Rollback => "#7B3294",
            MarkerKind::Override => "#D55E00",
            MarkerKind::ManualMove => "#4D5B69",
            MarkerKind::Promotion => "#009E73",
            MarkerKind::Removal => "#8C6D1F",
        }
    }

    /// The letter drawn in the marker's flag.
    fn letter(self) -> &'static str {
        match self {
            MarkerKind::Alert => "A",
            MarkerKind::Rollback => "R",
            MarkerKind::Override => "O",
            MarkerKind::ManualMove => "M",
            MarkerKind::Promotion => "P",
            MarkerKind::Removal => "W",
        }
    }

    /// What the legend calls it.
    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::Alert => "alert",
            MarkerKind::Rollback => "automatic rollback",
            MarkerKind::Override => "override",
            MarkerKind::ManualMove => "manual move",
            MarkerKind::Promotion => "promotion",
            MarkerKind::Removal => "withdrawal or stop",
        }
    }
}

/// A vertical marker at a point of the x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub at: f64,
    pub kind: MarkerKind,
    /// The whole description (a tooltip on the chart).
    pub label: String,
}

/// A line chart: its series, bands, markers and axes.
pub struct LineChart<'a> {
    pub title: &'a str,
    pub series: &'a [Series<'a>],
    pub thresholds: &'a [Threshold],
    pub markers: &'a [Marker],
    pub x_axis: XAxis,
    /// The x range shown (so that charts of one page share a time axis); `None` fits the data.
    pub x_range: Option<(f64, f64)>,
}

struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    left: f64,
    /// The margin right of the plot (band labels sit there).
    right: f64,
    /// The y of the x axis.
    bottom: f64,
    top: f64,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - self.left - self.right)
    }
    fn py(&self, y: f64) -> f64 {
        self.bottom - (y - self.y.0) / (self.y.1 - self.y.0) * (self.bottom - self.top)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `text` cut to `chars` characters with an ellipsis when longer.
fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(chars.saturating_sub(1)).collect();
    short.push('…');
    short
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR
}

/// A readable number: at most four significant digits.
pub fn number(value: f64) -> String {
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

// ---------------------------------------------------------------------------------------------------------
// Ticks

/// The smallest step of 1, 2 or 5 times a power of ten at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|&s| s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * power)
}

/// Round ticks covering `[lo, hi]`: the first at or below `lo`, the last at or above `hi`, at most `max` of
/// them (at least two), each with its label. An empty range is widened around its value.
pub fn number_ticks(lo: f64, hi: f64, max: usize) -> Vec<(f64, String)> {
    let max = max.max(2);
    let (mut lo, mut hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(lo.is_finite() && hi.is_finite()) {
        return vec![(0.0, "0".into()), (1.0, "1".into())];
    }
    if hi - lo <= hi.abs().max(lo.abs()) * 1e-12 {
        let half = if lo == 0.0 { 0.5 } else { lo.abs() * 0.05 };
        (lo, hi) = (lo - half, hi + half);
    }
    let span = hi - lo;
    if !span.is_finite() {
        // Beyond f64's range: two ticks at the ends.
        return vec![(lo, tick_label(lo, lo.abs())), (hi, tick_label(hi, hi.abs()))];
    }
    let mut step = nice_step(span / (max - 1) as f64);
    loop {
        let (first, last) = ((lo / step).floor(), (hi / step).ceil());
        if last - first < max as f64 || !step.is_finite() {
            let ticks: Vec<f64> = (0..=(last - first) as i64).map(|k| (first + k as f64) * step).collect();
            return ticks.into_iter().map(|t| (t, tick_label(t, step))).collect();
        }
        step = nice_step(step * 1.5);
    }
}

/// A tick's label, as precise as the step between ticks needs: `0.25`, `1,500` as `1.5k`, `2.5M`, `2e-5`.
fn tick_label(value: f64, step: f64) -> String {
    if value.abs() < step * 1e-9 {
        return "0".into();
    }
    let decimals = |step: f64| (-step.log10().floor()).max(0.0) as usize;
    let scale = value.abs().max(step);
    if scale >= 1e15 || step < 1e-4 {
        let digits = (value.abs().log10().floor() - step.log10().floor()).clamp(0.0, 6.0) as usize;
        return format!("{value:.digits$e}");
    }
    for (unit, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")] {
        if scale >= unit {
            let d = decimals(step / unit);
            return format!("{:.d$}{suffix}", value / unit);
        }
    }
    let d = decimals(step);
    format!("{value:.d$}")
}

const MILLI: i64 = 1_000;
const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 1970-01-01 was a Thursday: week ticks start on the Monday four days later.
const FIRST_MONDAY: i64 = 4 * DAY;

/// Steps of a fixed length, smallest first.
const FIXED_STEPS: [i64; 30] = [
    MILLI,
    2 * MILLI,
    5 * MILLI,
    10 * MILLI,
    20 * MILLI,
    50 * MILLI,
    100 * MILLI,
    200 * MILLI,
    500 * MILLI,
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
];

/// Calendar steps in months, past the fixed ones.
const MONTH_STEPS: [i64; 9] = [1, 2, 3, 6, 12, 24, 60, 120, 600];

/// How a time tick is written; the finest unit the step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeFormat {
    Millis,
    Seconds,
    Minutes,
    Days,
    Months,
    Years,
}

impl TimeFormat {
    fn of_step(step: TimeStep) -> TimeFormat {
        match step {
            TimeStep::Fixed(s) if s < SECOND => TimeFormat::Millis,
            TimeStep::Fixed(s) if s < MINUTE => TimeFormat::Seconds,
            TimeStep::Fixed(s) if s < DAY => TimeFormat::Minutes,
            TimeStep::Fixed(_) => TimeFormat::Days,
            TimeStep::Months(m) if m < 12 => TimeFormat::Months,
            TimeStep::Months(_) => TimeFormat::Years,
        }
    }

    /// The label, and the context written under it (the date under clock times, the year under days).
    fn label(self, at: OffsetDateTime) -> (String, Option<String>) {
        let month = short_month(at.month());
        let day = format!("{} {month}", at.day());
        match self {
            TimeFormat::Millis => {
                (format!("{:02}:{:02}:{:02}.{:03}", at.hour(), at.minute(), at.second(), at.millisecond()), Some(day))
            }
            TimeFormat::Seconds => (format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second()), Some(day)),
            TimeFormat::Minutes => (format!("{:02}:{:02}", at.hour(), at.minute()), Some(day)),
            TimeFormat::Days => (day, Some(at.year().to_string())),
            TimeFormat::Months => (format!("{month} {}", at.year()), None),
            TimeFormat::Years => (at.year().to_string(), None),
        }
    }
}

fn short_month(month: Month) -> &'static str {
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][month as usize - 1]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeStep {
    Fixed(i64),
    Months(i64),
}

/// A time tick: where (µs), its label, and the context to write under it (only where it changes).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeTick {
    pub at: f64,
    pub label: String,
    pub context: Option<String>,
}

/// Ticks at round times inside `[lo, hi]` (µs since the epoch), at most `max`, labelled in the format the step
/// needs. An empty range is widened to a minute around its time.
pub fn time_ticks(lo: f64, hi: f64, max: usize) -> Vec<TimeTick> {
    let (lo, hi) = time_range(lo, hi);
    let (lo, hi) = (lo as i64, hi as i64);
    let span = hi - lo;
    let max = max.max(2) as i64;
    let fixed = FIXED_STEPS.iter().map(|&s| TimeStep::Fixed(s));
    let months = MONTH_STEPS.iter().map(|&m| TimeStep::Months(m));
    let step = fixed
        .chain(months)
        .find(|&step| match step {
            TimeStep::Fixed(s) => span / s < max,
            TimeStep::Months(m) => span / (m * 30 * DAY) < max - 1,
        })
        .unwrap_or(TimeStep::Months(1200));
    let times: Vec<i64> = match step {
        TimeStep::Fixed(s) => {
            let origin = if s >= 7 * DAY { FIRST_MONDAY } else { 0 };
            let first = (lo - origin).div_euclid(s) * s + origin;
            let first = if first < lo { first + s } else { first };
            (0..).map(|k| first + k * s).take_while(|&t| t <= hi).collect()
        }
        TimeStep::Months(m) => month_ticks(lo, hi, m),
    };
    let format = TimeFormat::of_step(step);
    let mut previous: Option<String> = None;
    times
        .into_iter()
        .filter_map(|t| {
            let (label, context) = format.label(Timestamp::from(t).to_datetime()?);
            let context = match context {
                Some(c) if previous.as_ref() != Some(&c) => {
                    previous = Some(c.clone());
                    Some(c)
                }
                _ => None,
            };
            Some(TimeTick { at: t as f64, label, context })
        })
        .collect()
}

/// A time range wide enough to draw: an empty one becomes the minute around its time.
fn time_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if hi - lo < 1_000.0 { (lo - 30e6, hi + 30e6) } else { (lo, hi) }
}

/// The first day of every `step`-th month (counted from year 0) inside `[lo, hi]`.
fn month_ticks(lo: i64, hi: i64, step: i64) -> Vec<i64> {
    let Some(start) = Timestamp::from(lo).to_datetime() else { return Vec::new() };
    let mut index = i64::from(start.year()) * 12 + start.month() as i64 - 1;
    index = index.div_euclid(step) * step;
    let mut ticks = Vec::new();
    loop {
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u8 + 1);
        let Some(at) = i32::try_from(year)
            .ok()
            .and_then(|y| Date::from_calendar_date(y, Month::try_from(month).ok()?, 1).ok())
            .and_then(|d| Timestamp::from_datetime(d.with_time(Time::MIDNIGHT).assume_utc()))
        else {
            break;
        };
        let at = at.micros();
        if at > hi {
            break;
        }
        if at >= lo {
            ticks.push(at);
        }
        index += step;
    }
    ticks
}

/// Spreads labels wanted at `wanted` so that neighbours are at least `gap` apart inside `[min, max]`, moving
/// each as little as it can; the result is in the order given.
pub fn spread(wanted: &[f64], gap: f64, min: f64, max: f64) -> Vec<f64> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by(|&a, &b| wanted[a].total_cmp(&wanted[b]));
    let mut placed: Vec<f64> = order.iter().map(|&i| wanted[i].clamp(min, max)).collect();
    for i in 1..placed.len() {
        placed[i] = placed[i].max(placed[i - 1] + gap);
    }
    if let Some(&last) = placed.last()
        && last > max
    {
        let over = last - max;
        let n = placed.len();
        placed[n - 1] -= over;
        for i in (0..n - 1).rev() {
            placed[i] = placed[i].min(placed[i + 1] - gap);
        }
    }
    let mut out = vec![0.0; wanted.len()];
    for (slot, &i) in order.iter().enumerate() {
        out[i] = placed[slot].max(min);
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Drawing

/// The `<svg>` element of a chart of class `class` and height `height`, titled for screen readers.
fn open_sized(svg: &mut String, class: &str, height: f64, title: &str) {
    let _ = write!(
        svg,
        r#"<svg class="{class}" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
}

fn empty(svg: &mut String, y: f64, text: &str) {
    let _ =
        write!(svg, r#"<text x="{}" y="{y}" text-anchor="middle" class="empty">{}</text>"#, WIDTH / 2.0, escape(text));
}

/// The y axis: gridlines and labels at the ticks.
fn y_axis(svg: &mut String, frame: &Frame, ticks: &[(f64, String)]) {
    for (y, label) in ticks {
        let py = frame.py(*y);
        let _ = write!(
            svg,
            r##"<line x1="{:.1}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#e3e6ea"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            frame.left,
            WIDTH - frame.right,
            frame.left - 4.0,
            py + 3.5,
            escape(label)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{l:.1}" x2="{l:.1}" y1="{}" y2="{}" stroke="#9aa3ad"/><line x1="{l:.1}" x2="{}" y1="{b}" y2="{b}" stroke="#9aa3ad"/>"##,
        frame.top,
        frame.bottom,
        WIDTH - frame.right,
        l = frame.left,
        b = frame.bottom,
    );
}

/// The x axis's labels: times (with their dates beneath where they change) or numbers.
fn x_labels(svg: &mut String, frame: &Frame, x_axis: XAxis) {
    let plot = WIDTH - frame.left - frame.right;
    let labels: Vec<(f64, String, Option<String>)> = match x_axis {
        XAxis::Time => {
            let max = (plot / (12.0 * CHAR + 14.0)).floor() as usize;
            let mut ticks = time_ticks(frame.x.0, frame.x.1, max.max(2));
            let widest = ticks.iter().map(|t| t.label.chars().count()).max().unwrap_or(5);
            let fit = (plot / (widest as f64 * CHAR + 14.0)).floor() as usize;
            if fit < ticks.len() {
                ticks = time_ticks(frame.x.0, frame.x.1, fit.max(2));
            }
            ticks.into_iter().map(|t| (t.at, t.label, t.context)).collect()
        }
        XAxis::Number => number_ticks(frame.x.0, frame.x.1, 6).into_iter().map(|(x, label)| (x, label, None)).collect(),
    };
    for (x, label, context) in labels {
        if x < frame.x.0 - 1e-9 * (frame.x.1 - frame.x.0).abs() || x > frame.x.1 + 1e-9 * (frame.x.1 - frame.x.0).abs()
        {
            continue;
        }
        let px = frame.px(x);
        // Labels near an end are anchored inside the chart, never cut by its edge.
        let half = text_width(&label).max(context.as_deref().map_or(0.0, text_width)) / 2.0;
        let (tx, anchor) = if px - half < 2.0 {
            (px.max(2.0), "start")
        } else if px + half > WIDTH - 2.0 {
            (px.min(WIDTH - 2.0), "end")
        } else {
            (px, "middle")
        };
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{b}" y2="{}" stroke="#9aa3ad"/><text x="{tx:.1}" y="{}" text-anchor="{anchor}" class="tick">{}</text>"##,
            frame.bottom + 4.0,
            frame.bottom + 15.0,
            escape(&label),
            b = frame.bottom,
        );
        if let Some(context) = context {
            let _ = write!(
                svg,
                r#"<text x="{tx:.1}" y="{}" text-anchor="{anchor}" class="tick context">{}</text>"#,
                frame.bottom + 27.0,
                escape(&context)
            );
        }
    }
}

/// The left margin the y labels need.
fn left_margin(ticks: &[(f64, String)]) -> f64 {
    let widest = ticks.iter().map(|(_, l)| text_width(l)).fold(0.0, f64::max);
    (widest + 10.0).max(30.0)
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

/// A row of coloured keys with their names, from `x` at height `y`.
fn legend_row(svg: &mut String, x: f64, y: f64, names: &[(&str, &str)]) {
    let mut x = x;
    for (name, colour) in names {
        let _ = write!(
            svg,
            r#"<g class="key"><rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{:.1}" class="legend">{}</text></g>"#,
            y - 9.0,
            x + 14.0,
            y,
            escape(name)
        );
        // Legend text is 11 px, a little wider than tick text.
        x += 26.0 + text_width(name) * 1.12;
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

/// The y range of a chart: from zero when the values sit well above it, else around them; and its ticks.
fn y_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let lo = if lo > 0.0 && lo < (hi - lo) { 0.0 } else { lo };
    number_ticks(lo, hi, 6)
}

/// A line chart over time or numbers, with threshold lines and vertical markers (alerts, deployments).
pub fn line_chart(chart: &LineChart<'_>) -> Markup {
    let markers_shown: Vec<&Marker> =
        chart.markers.iter().filter(|m| chart.x_range.is_none_or(|(lo, hi)| (lo..=hi).contains(&m.at))).collect();
    let mut kinds: Vec<MarkerKind> = markers_shown.iter().map(|m| m.kind).collect();
    kinds.sort();
    kinds.dedup();
    let legend = chart.series.len() > 1 || !kinds.is_empty();
    let height = HEIGHT + if legend { LEGEND_ROW } else { 0.0 };
    let mut svg = String::new();
    open_sized(&mut svg, "chart", height, chart.title);
    let data_x = bounds(chart.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let xs = chart
        .x_range
        .or(data_x.map(|x| bounds([x.0, x.1].into_iter().chain(markers_shown.iter().map(|m| m.at))).unwrap_or(x)));
    let ys = bounds(
        chart.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).chain(chart.thresholds.iter().map(|t| t.value)),
    );
    let (Some(x), Some(y), Some(_)) = (xs, ys, data_x) else {
        empty(&mut svg, HEIGHT / 2.0, "no data yet");
        return close(svg);
    };
    let ticks = y_ticks(y.0, y.1);
    let x = match chart.x_axis {
        XAxis::Time => time_range(x.0, x.1),
        XAxis::Number if x.1 > x.0 => x,
        XAxis::Number => (x.0 - 0.5, x.1 + 0.5),
    };
    let frame = Frame {
        x,
        y: (ticks[0].0, ticks[ticks.len() - 1].0),
        left: left_margin(&ticks),
        right: band_margin(chart.thresholds),
        bottom: HEIGHT - BOTTOM,
        top: TOP,
    };
    y_axis(&mut svg, &frame, &ticks);
    x_labels(&mut svg, &frame, chart.x_axis);
    thresholds(&mut svg, &frame, chart.thresholds);
    markers(&mut svg, &frame, &markers_shown);
    for (i, s) in chart.series.iter().enumerate() {
        polyline(&mut svg, &frame, &s.points, PALETTE[i % PALETTE.len()], "");
    }
    if legend {
        let mut names: Vec<(&str, &str)> = Vec::new();
        if chart.series.len() > 1 {
            names.extend(chart.series.iter().enumerate().map(|(i, s)| (s.name, PALETTE[i % PALETTE.len()])));
        }
        names.extend(kinds.iter().map(|k| (k.name(), k.colour())));
        legend_row(&mut svg, frame.left, height - 5.0, &names);
    }
    close(svg)
}

/// Vertical markers with a lettered flag each at the top of the plot; flags too close to the previous one
/// drop a row (three rows), so none hides another. Each carries its whole description as a tooltip.
fn markers(svg: &mut String, frame: &Frame, markers: &[&Marker]) {
    const FLAG: f64 = 11.0;
    let mut order: Vec<&&Marker> = markers.iter().collect();
    order.sort_by(|a, b| a.at.total_cmp(&b.at));
    let mut row_ends = [f64::NEG_INFINITY; 3];
    for m in order {
        let px = frame.px(m.at);
        let colour = m.kind.colour();
        let label = escape(&m.label);
        let _ = write!(
            svg,
            r#"<g class="marker {}"><title>{label}</title><line x1="{px:.1}" x2="{px:.1}" y1="{}" y2="{}" stroke="{colour}" stroke-width="1.2" stroke-dasharray="3 2"/>"#,
            m.kind.name().replace(' ', "-"),
            frame.top,
            frame.bottom,
        );
        if let Some(row) = row_ends.iter().position(|&end| px - FLAG / 2.0 > end + 1.0) {
            row_ends[row] = px + FLAG / 2.0;
            let y = frame.top + row as f64 * (FLAG + 1.0);
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{y:.1}" width="{FLAG}" height="{FLAG}" rx="2" fill="{colour}"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" class="flag">{}</text>"#,
                px - FLAG / 2.0,
                y + 8.5,
                m.kind.letter()
            );
        }
        svg.push_str("</g>");
    }
}

/// The right margin band labels need (none without bands).
fn band_margin(thresholds: &[Threshold]) -> f64 {
    thresholds.iter().map(|t| text_width(&band_label(t)) + 8.0).fold(RIGHT, f64::max)
}

fn band_label(t: &Threshold) -> String {
    format!("{} {}", t.label, number(t.value))
}

/// Dashed lines at the thresholds, each labelled with its name and value right of the plot (where no series
/// or marker runs); labels closer than a line of text are moved apart.
fn thresholds(svg: &mut String, frame: &Frame, thresholds: &[Threshold]) {
    let lines: Vec<f64> = thresholds.iter().map(|t| frame.py(t.value)).collect();
    let wanted: Vec<f64> = lines.iter().map(|y| y + 3.5).collect();
    let placed = spread(&wanted, 11.0, frame.top + 4.0, frame.bottom + 4.0);
    for ((t, line), label_y) in thresholds.iter().zip(lines).zip(placed) {
        let _ = write!(
            svg,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{line:.1}" y2="{line:.1}" stroke="{}" stroke-dasharray="5 4"/><text x="{:.1}" y="{label_y:.1}" class="band" fill="{}">{}</text>"#,
            frame.left,
            WIDTH - frame.right + 2.0,
            t.colour,
            WIDTH - frame.right + 4.0,
            t.colour,
            escape(&band_label(t)),
        );
    }
}

/// A curve on the unit square with its diagonal (ROC, reliability).
pub fn unit_curve(title: &str, points: &[(f64, f64)], x_label: &str, y_label: &str) -> Markup {
    let mut svg = String::new();
    let height = HEIGHT + LEGEND_ROW;
    open_sized(&mut svg, "chart", height, title);
    let ticks = number_ticks(0.0, 1.0, 6);
    let frame = Frame {
        x: (0.0, 1.0),
        y: (0.0, 1.0),
        left: left_margin(&ticks),
        right: RIGHT,
        bottom: HEIGHT - BOTTOM,
        top: TOP,
    };
    y_axis(&mut svg, &frame, &ticks);
    x_labels(&mut svg, &frame, XAxis::Number);
    polyline(&mut svg, &frame, &[(0.0, 0.0), (1.0, 1.0)], "#9aa3ad", r#"stroke-dasharray="4 4""#);
    polyline(&mut svg, &frame, points, PALETTE[0], "");
    for (x, y) in points.iter().filter(|_| points.len() <= 20) {
        let _ =
            write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#, frame.px(*x), frame.py(*y), PALETTE[0]);
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end" class="axis">{}</text><text x="{:.1}" y="{}" class="axis">{}</text>"#,
        WIDTH - RIGHT,
        height - 5.0,
        escape(x_label),
        frame.left + 4.0,
        TOP + 10.0,
        escape(y_label)
    );
    close(svg)
}

/// How the values of a bar chart read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Plain numbers (counts, rates).
    Number,
    /// Shares of a whole, written as percentages.
    Share,
}

/// Grouped vertical bars: one group per label, one bar per series.
pub fn bar_chart(title: &str, labels: &[String], series: &[(&str, Vec<f64>)], reference: Option<Threshold>) -> Markup {
    grouped_bars(title, labels, series, reference, Values::Number)
}

/// Grouped vertical bars, with values read as `values` says.
pub fn grouped_bars(
    title: &str,
    labels: &[String],
    series: &[(&str, Vec<f64>)],
    reference: Option<Threshold>,
    values: Values,
) -> Markup {
    let legend = series.len() > 1;
    let height = HEIGHT + if legend { LEGEND_ROW } else { 0.0 };
    let mut svg = String::new();
    open_sized(&mut svg, "chart", height, title);
    if labels.is_empty() {
        empty(&mut svg, HEIGHT / 2.0, "no data yet");
        return close(svg);
    }
    let top = bounds(series.iter().flat_map(|s| s.1.iter().copied()).chain(reference.map(|r| r.value)))
        .map_or(1.0, |b| b.1)
        .max(0.0);
    let mut ticks = number_ticks(0.0, if top > 0.0 { top } else { 1.0 }, 6);
    if values == Values::Share {
        let step = ticks.get(1).map_or(1.0, |t| t.0) - ticks[0].0;
        for (value, label) in &mut ticks {
            *label = percent_label(*value, step);
        }
    }
    let frame = Frame {
        x: (0.0, labels.len() as f64),
        y: (ticks[0].0, ticks[ticks.len() - 1].0),
        left: left_margin(&ticks),
        right: band_margin(reference.as_slice()),
        bottom: HEIGHT - BOTTOM,
        top: TOP,
    };
    y_axis(&mut svg, &frame, &ticks);
    let group = (WIDTH - frame.left - frame.right) / labels.len() as f64;
    let bar = (group * 0.8 / series.len().max(1) as f64).min(40.0);
    // Every label fits its group's width, cut short if need be; too many groups label every k-th.
    let chars = ((group * 0.95) / CHAR).floor() as usize;
    let every = if chars >= 3 { 1 } else { (3.0 * CHAR / group).ceil() as usize };
    for (g, label) in labels.iter().enumerate() {
        let start = frame.left + group * g as f64 + (group - bar * series.len() as f64) / 2.0;
        for (s, (name, values_of)) in series.iter().enumerate() {
            let Some(&value) = values_of.get(g) else { continue };
            let (x, y) = (start + bar * s as f64, frame.py(value.max(0.0)));
            let shown = match values {
                Values::Number => number(value),
                Values::Share => format!("{:.1}%", value * 100.0),
            };
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} · {}: {}</title></rect>"#,
                (bar - 1.0).max(0.5),
                (frame.bottom - y).max(0.0),
                PALETTE[s % PALETTE.len()],
                escape(label),
                escape(name),
                escape(&shown)
            );
        }
        if g % every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle" class="tick"><title>{}</title>{}</text>"#,
                frame.left + group * (g as f64 + 0.5),
                frame.bottom + 15.0,
                escape(label),
                escape(&shorten(label, chars.max(3)))
            );
        }
    }
    if let Some(r) = reference {
        thresholds(&mut svg, &frame, &[r]);
    }
    if legend {
        let names: Vec<(&str, &str)> =
            series.iter().enumerate().map(|(i, s)| (s.0, PALETTE[i % PALETTE.len()])).collect();
        legend_row(&mut svg, frame.left, height - 5.0, &names);
    }
    close(svg)
}

/// A share tick as a percentage, as precise as the step needs (`25%`, `2.5%`).
fn percent_label(share: f64, step: f64) -> String {
    tick_label(share * 100.0, (step * 100.0).max(1e-9)) + "%"
}

/// A heat map: one row per name, one column per time (µs); cells coloured by value between `warn` and
/// `alert`, with a colour legend. `x_range` is the time range shown (`None` fits the columns).
pub fn heat_map(
    title: &str,
    rows: &[(String, Vec<Option<f64>>)],
    columns: &[f64],
    warn: f64,
    alert: f64,
    x_range: Option<(f64, f64)>,
) -> Markup {
    const ROW: f64 = 18.0;
    const LEGEND: f64 = 34.0;
    let plot_bottom = TOP + ROW * rows.len().max(1) as f64;
    let height = plot_bottom + BOTTOM + LEGEND;
    let mut svg = String::new();
    open_sized(&mut svg, "chart heat", height, title);
    if rows.is_empty() || columns.is_empty() {
        empty(&mut svg, TOP + ROW, "no data yet");
        return close(svg);
    }
    // Names take the room the longest needs, up to a third of the width; longer ones are cut short.
    let widest = rows.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    let label_chars = widest.min(((WIDTH / 3.0) / CHAR) as usize).max(4);
    let left = label_chars as f64 * CHAR + 10.0;
    let range = x_range.unwrap_or((columns[0], columns[columns.len() - 1]));
    let frame =
        Frame { x: time_range(range.0, range.1), y: (0.0, 1.0), left, right: RIGHT, bottom: plot_bottom, top: TOP };
    let spans = cell_spans(columns, frame.x);
    for (r, (name, values)) in rows.iter().enumerate() {
        let y = TOP + ROW * r as f64;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="tick"><title>{}</title>{}</text>"#,
            left - 6.0,
            y + ROW * 0.65,
            escape(name),
            escape(&shorten(name, label_chars))
        );
        for ((from, to), value) in spans.iter().zip(values) {
            let colour = match value {
                None => NO_VALUE.to_owned(),
                Some(v) => heat_colour(*v, warn, alert),
            };
            let tip = value.map_or_else(|| "no value".to_owned(), number);
            let (x0, x1) = (frame.px(*from), frame.px(*to));
            let _ = write!(
                svg,
                r#"<rect x="{x0:.2}" y="{y:.1}" width="{:.2}" height="{}" fill="{colour}"><title>{}: {tip}</title></rect>"#,
                (x1 - x0 + 0.05).max(0.6),
                ROW - 2.0,
                escape(name)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<line x1="{left:.1}" x2="{}" y1="{plot_bottom}" y2="{plot_bottom}" stroke="#9aa3ad"/>"##,
        WIDTH - RIGHT
    );
    x_labels(&mut svg, &frame, XAxis::Time);
    heat_legend(&mut svg, 8.0, height - 10.0, warn, alert);
    close(svg)
}

const NO_VALUE: &str = "#e9ecef";

/// Where each column's cell starts and ends: halfway to its neighbours, an outer cell as wide as its inner
/// half; a cell never wider than three typical gaps, so a pause in evaluations shows as a gap.
fn cell_spans(columns: &[f64], range: (f64, f64)) -> Vec<(f64, f64)> {
    let mut gaps: Vec<f64> = columns.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 0.0).collect();
    gaps.sort_by(f64::total_cmp);
    let typical = gaps.get(gaps.len() / 2).copied().unwrap_or((range.1 - range.0) / 60.0);
    let half = typical * 1.5;
    (0..columns.len())
        .map(|i| {
            let at = columns[i];
            let before = if i > 0 { ((at - columns[i - 1]) / 2.0).min(half) } else { (typical / 2.0).min(half) };
            let after =
                if i + 1 < columns.len() { ((columns[i + 1] - at) / 2.0).min(half) } else { (typical / 2.0).min(half) };
            ((at - before).max(range.0), (at + after).min(range.1))
        })
        .collect()
}

/// The colour scale of a heat map, from 0 to past `alert`, with the warn and alert levels marked, and the
/// colour of cells without a value.
fn heat_legend(svg: &mut String, x: f64, y: f64, warn: f64, alert: f64) {
    const STEPS: usize = 24;
    const LENGTH: f64 = 240.0;
    let top = (alert * 1.5).max(warn * 2.0).max(1e-9);
    let _ = write!(
        svg,
        r#"<g class="heat-legend"><text x="{x:.1}" y="{:.1}" class="legend">colour scale</text>"#,
        y - 12.0
    );
    let start = x + 80.0;
    for i in 0..STEPS {
        let value = top * (i as f64 + 0.5) / STEPS as f64;
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.2}" height="9" fill="{}"/>"#,
            start + LENGTH * i as f64 / STEPS as f64,
            y - 20.0,
            LENGTH / STEPS as f64 + 0.05,
            heat_colour(value, warn, alert)
        );
    }
    let at = |v: f64| start + LENGTH * (v / top).clamp(0.0, 1.0);
    let names =
        [("0".to_owned(), 0.0), (format!("warn {}", number(warn)), warn), (format!("alert {}", number(alert)), alert)];
    let wanted: Vec<f64> = names.iter().map(|(_, v)| at(*v)).collect();
    let widths: f64 = names.iter().map(|(n, _)| text_width(n)).fold(0.0, f64::max);
    let placed = spread(&wanted, widths * 0.5 + 22.0, start, start + LENGTH + 40.0);
    for (((name, _), px), tx) in names.iter().zip(&wanted).zip(placed) {
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{:.1}" stroke="#4d5b69"/><text x="{tx:.1}" y="{y:.1}" text-anchor="middle" class="tick">{}</text>"##,
            y - 22.0,
            y - 9.0,
            escape(name)
        );
    }
    let _ = write!(
        svg,
        r##"<rect x="{:.1}" y="{:.1}" width="12" height="9" fill="{NO_VALUE}" stroke="#c5ccd3"/><text x="{:.1}" y="{:.1}" class="legend">no value</text></g>"##,
        start + LENGTH + 60.0,
        y - 20.0,
        start + LENGTH + 76.0,
        y - 12.0
    );
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

/// One segment of a timeline lane: an alias on a version from `from` to `to` (µs).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub from: f64,
    pub to: f64,
    pub version: String,
}

/// An event on a timeline lane.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneEvent {
    pub lane: usize,
    pub marker: Marker,
    /// A few words drawn under the lanes ("override → v3"); the marker's label is the tooltip.
    pub short: String,
}

/// Which version each alias served when: one lane per alias, one segment per assignment, and the events
/// (overrides, rollbacks, manual moves) flagged on their lanes and named in rows beneath. Names that would
/// overlap go to the next row (three rows); past that, neighbours are counted into the name before them
/// ("+2"), whose tooltip lists them.
pub fn timeline(title: &str, lanes: &[(String, Vec<Segment>)], events: &[LaneEvent], now: f64) -> Markup {
    const LANE: f64 = 26.0;
    const EVENT_ROW: f64 = 14.0;
    let start = lanes.iter().flat_map(|l| l.1.iter().map(|s| s.from)).fold(f64::INFINITY, f64::min);
    let label_chars = lanes.iter().map(|l| l.0.chars().count()).max().unwrap_or(0).clamp(6, 18);
    let left = label_chars as f64 * CHAR + 10.0;
    let lanes_bottom = TOP + LANE * lanes.len().max(1) as f64;
    let (rows, placed) = place_event_names(events, left, start, now);
    let names_height = if rows == 0 { 0.0 } else { 6.0 + EVENT_ROW * rows as f64 };
    let mut kinds: Vec<MarkerKind> = events.iter().map(|e| e.marker.kind).collect();
    kinds.sort();
    kinds.dedup();
    let height = lanes_bottom + names_height + BOTTOM + if kinds.is_empty() { 0.0 } else { LEGEND_ROW };
    let mut svg = String::new();
    open_sized(&mut svg, "chart timeline", height, title);
    if !start.is_finite() {
        empty(&mut svg, TOP + LANE, "never deployed");
        return close(svg);
    }
    let frame = Frame {
        x: time_range(start, now.max(start)),
        y: (0.0, 1.0),
        left,
        right: RIGHT,
        bottom: lanes_bottom + names_height,
        top: TOP,
    };
    let mut versions: Vec<&str> = lanes.iter().flat_map(|l| l.1.iter().map(|s| s.version.as_str())).collect();
    versions.sort_by_key(|v| (v.parse::<i64>().unwrap_or(i64::MAX), v.to_string()));
    versions.dedup();
    for (l, (alias, segments)) in lanes.iter().enumerate() {
        let y = TOP + LANE * l as f64;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="tick"><title>{}</title>{}</text>"#,
            left - 6.0,
            y + LANE * 0.6,
            escape(alias),
            escape(&shorten(alias, label_chars))
        );
        for s in segments {
            let colour = PALETTE[versions.iter().position(|v| *v == s.version).unwrap_or(0) % PALETTE.len()];
            let (x0, x1) = (frame.px(s.from), frame.px(s.to));
            let _ = write!(
                svg,
                r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}" rx="3"><title>{}: version {}</title></rect>"#,
                y + 3.0,
                (x1 - x0).max(2.0),
                LANE - 6.0,
                escape(alias),
                escape(&s.version)
            );
            let text = format!("v{}", s.version);
            if x1 - x0 > text_width(&text) + 8.0 {
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" class="on-bar">{}</text>"#,
                    x0 + 4.0,
                    y + LANE * 0.62,
                    escape(&text)
                );
            }
        }
    }
    for (event, name) in events.iter().zip(&placed) {
        let m = &event.marker;
        let px = frame.px(m.at);
        let lane_y = TOP + LANE * event.lane as f64;
        let colour = m.kind.colour();
        let _ = write!(
            svg,
            r##"<g class="event {}"><title>{}</title><path d="M{px:.1},{:.1}l5,6l-5,6l-5,-6z" fill="{colour}" stroke="#fff" stroke-width="0.8"/>"##,
            m.kind.name().replace(' ', "-"),
            escape(&name.tooltip),
            lane_y + 1.0,
        );
        if let Some((row, x, anchor, text)) = &name.shown {
            let ty = lanes_bottom + 6.0 + EVENT_ROW * (*row as f64 + 0.75);
            let _ = write!(
                svg,
                r#"<line x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}" stroke-dasharray="2 2"/><text x="{x:.1}" y="{ty:.1}" text-anchor="{anchor}" class="event-name" fill="{colour}">{}</text>"#,
                lane_y + 13.0,
                ty - 9.0,
                escape(text)
            );
        }
        svg.push_str("</g>");
    }
    let _ = write!(
        svg,
        r##"<line x1="{left:.1}" x2="{}" y1="{b:.1}" y2="{b:.1}" stroke="#9aa3ad"/>"##,
        WIDTH - RIGHT,
        b = frame.bottom
    );
    x_labels(&mut svg, &frame, XAxis::Time);
    if !kinds.is_empty() {
        let names: Vec<(&str, &str)> = kinds.iter().map(|k| (k.name(), k.colour())).collect();
        legend_row(&mut svg, left, height - 5.0, &names);
    }
    close(svg)
}

/// Where an event's name is drawn: row, x, anchor and text; `None` when it is counted into a neighbour's.
struct PlacedName {
    shown: Option<(usize, f64, &'static str, String)>,
    tooltip: String,
}

/// Lays the events' names out in up to three rows without overlaps; returns the rows used and, per event,
/// where its name goes.
fn place_event_names(events: &[LaneEvent], left: f64, start: f64, now: f64) -> (usize, Vec<PlacedName>) {
    const ROWS: usize = 3;
    const GAP: f64 = 8.0;
    let (lo, hi) = time_range(start, now.max(start));
    let px = |t: f64| left + (t - lo) / (hi - lo) * (WIDTH - left - RIGHT);
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| events[a].marker.at.total_cmp(&events[b].marker.at));
    let mut placed: Vec<PlacedName> =
        events.iter().map(|e| PlacedName { shown: None, tooltip: e.marker.label.clone() }).collect();
    let mut row_ends = [f64::NEG_INFINITY; ROWS];
    // The last shown name of each row, to count hidden neighbours into.
    let mut row_last: [Option<usize>; ROWS] = [None; ROWS];
    let mut hidden: Vec<Vec<usize>> = vec![Vec::new(); events.len()];
    let mut used = 0;
    for i in order {
        let x = px(events[i].marker.at);
        // Room for a "+n" suffix is kept so that counting neighbours in never makes names overlap.
        let width = text_width(&events[i].short) + 4.0 * CHAR;
        let (tx, anchor, from, to) =
            if x + width > WIDTH - RIGHT { (x, "end", x - width, x) } else { (x, "start", x, x + width) };
        match row_ends.iter().position(|&end| from > end + GAP) {
            Some(row) => {
                row_ends[row] = to;
                row_last[row] = Some(i);
                used = used.max(row + 1);
                placed[i].shown = Some((row, tx, anchor, events[i].short.clone()));
            }
            None => {
                // Every row is taken here: count it into the nearest shown name.
                let host = row_last
                    .iter()
                    .flatten()
                    .copied()
                    .max_by(|&a, &b| events[a].marker.at.total_cmp(&events[b].marker.at));
                if let Some(host) = host {
                    hidden[host].push(i);
                }
            }
        }
    }
    for (host, others) in hidden.iter().enumerate() {
        if others.is_empty() {
            continue;
        }
        if let Some((_, _, _, text)) = &mut placed[host].shown {
            text.push_str(&format!(" +{}", others.len()));
        }
        let mut tooltip = placed[host].tooltip.clone();
        for &o in others {
            tooltip.push('\n');
            tooltip.push_str(&events[o].marker.label);
        }
        placed[host].tooltip = tooltip;
        for &o in others {
            placed[o].tooltip = events[o].marker.label.clone();
        }
    }
    (used, placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_764_900_000e6; // 2025-12-05 02:00:00 UTC

    fn labels(ticks: &[TimeTick]) -> Vec<&str> {
        ticks.iter().map(|t| t.label.as_str()).collect()
    }

    fn distinct(labels: &[&str]) -> bool {
        let mut sorted = labels.to_vec();
        sorted.sort();
        sorted.dedup();
        sorted.len() == labels.len()
    }

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
    fn numeric_ticks_are_round_steps_of_one_two_or_five() {
        let ticks = number_ticks(0.0, 0.23, 6);
        assert_eq!(
            ticks.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            ["0", "0.05", "0.10", "0.15", "0.20", "0.25"]
        );
        let ticks = number_ticks(3.0, 97.0, 6);
        assert_eq!(ticks.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(), ["0", "20", "40", "60", "80", "100"]);
        for (lo, hi) in
            [(0.0, 1.0), (-3.7, 12.2), (0.013, 0.0171), (1e-9, 7e-9), (2.5e6, 9.1e7), (-1e12, 1e12), (17.0, 17.0)]
        {
            let ticks = number_ticks(lo, hi, 6);
            assert!(ticks.len() >= 2 && ticks.len() <= 6, "{lo}..{hi}: {ticks:?}");
            let step = ticks[1].0 - ticks[0].0;
            let slack = step * 1e-9;
            assert!(
                ticks[0].0 <= lo + slack && ticks[ticks.len() - 1].0 >= hi - slack,
                "{lo}..{hi} covered: {ticks:?}"
            );
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!([1.0, 2.0, 5.0, 10.0].iter().any(|m| (mantissa - m).abs() < 1e-6), "{lo}..{hi}: step {step}");
            let texts: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
            assert!(distinct(&texts), "{lo}..{hi}: {texts:?}");
        }
    }

    /// A fixed pseudo-random walk in [0, 1): the same ranges on every run.
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn numeric_ticks_cover_and_label_many_ranges() {
        let mut next = uniform(42);
        for _ in 0..5000 {
            let scale = 10f64.powf(-12.0 + next() * 26.0);
            let (a, b) = ((next() - 0.5) * scale, (next() - 0.3) * scale);
            let (lo, hi) = (a.min(b), a.max(b));
            let ticks = number_ticks(lo, hi, 6);
            assert!((2..=6).contains(&ticks.len()), "{lo}..{hi}: {ticks:?}");
            let step = ticks[1].0 - ticks[0].0;
            assert!(
                ticks[0].0 <= lo + step * 1e-6 && ticks[ticks.len() - 1].0 >= hi - step * 1e-6,
                "{lo}..{hi}: {ticks:?}"
            );
            let texts: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
            assert!(distinct(&texts), "{lo}..{hi}: {texts:?}");
            assert!(texts.iter().all(|t| t.chars().count() <= 11), "{lo}..{hi}: {texts:?}");
        }
    }

    #[test]
    fn tick_labels_stay_short_at_huge_and_tiny_magnitudes() {
        let huge: Vec<String> = number_ticks(0.0, 4.2e9, 6).into_iter().map(|t| t.1).collect();
        assert_eq!(huge, ["0", "1G", "2G", "3G", "4G", "5G"]);
        let tiny: Vec<String> = number_ticks(1e-6, 4e-6, 6).into_iter().map(|t| t.1).collect();
        assert_eq!(tiny, ["1e-6", "2e-6", "3e-6", "4e-6"]);
        let negative: Vec<String> = number_ticks(-0.5, 0.0, 6).into_iter().map(|t| t.1).collect();
        assert_eq!(negative, ["-0.5", "-0.4", "-0.3", "-0.2", "-0.1", "0"]);
        assert!(number_ticks(-1e300, 1e308, 6).len() >= 2, "a range beyond f64 still has ticks");
        assert!(number_ticks(f64::NAN, 1.0, 6).len() == 2);
    }

    #[test]
    fn a_constant_series_gets_a_range_around_its_value() {
        let ticks = number_ticks(0.3, 0.3, 6);
        assert!(ticks[0].0 < 0.3 && ticks[ticks.len() - 1].0 > 0.3);
        assert!(ticks.iter().any(|t| (t.0 - 0.3).abs() < 1e-12), "the value is a tick: {ticks:?}");
        let zero = number_ticks(0.0, 0.0, 6);
        assert!(zero[0].0 < 0.0 && zero[zero.len() - 1].0 > 0.0, "{zero:?}");
        let series = [Series { name: "psi", points: vec![(T0, 0.2), (T0 + 60e6, 0.2)] }];
        let chart = LineChart {
            title: "flat",
            series: &series,
            thresholds: &[],
            markers: &[],
            x_axis: XAxis::Time,
            x_range: None,
        };
        let svg = line_chart(&chart).0;
        assert!(svg.contains("<path d=\"M"), "the line is drawn");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn time_ticks_fit_the_range_shown() {
        // Seconds: every label differs and shows seconds.
        let seconds = time_ticks(T0, T0 + 40e6, 8);
        assert_eq!(labels(&seconds), ["02:00:00", "02:00:10", "02:00:20", "02:00:30", "02:00:40"]);
        assert_eq!(seconds[0].context.as_deref(), Some("5 Dec"), "the date once, under the first tick");
        assert!(seconds[1..].iter().all(|t| t.context.is_none()));
        // Two minutes (the demo's age): never the same "02:01" twice.
        let minutes = time_ticks(T0 + 5e6, T0 + 125e6, 8);
        assert!(distinct(&labels(&minutes)), "{:?}", labels(&minutes));
        assert!(minutes.iter().all(|t| t.label.len() == 8), "seconds shown: {:?}", labels(&minutes));
        // Hours, across midnight: the new date is written under the first tick of the day.
        let hours = time_ticks(T0 - 6.0 * 3600e6, T0 + 3600e6, 8);
        assert!(hours.iter().all(|t| t.label.len() == 5 && t.label.contains(':')));
        let midnight = hours.iter().find(|t| t.label == "00:00").expect("a tick at midnight");
        assert_eq!(midnight.context.as_deref(), Some("5 Dec"));
        // Days and months.
        let days = time_ticks(T0, T0 + 20.0 * 86_400e6, 8);
        assert!(distinct(&labels(&days)) && days.iter().all(|t| t.label.ends_with("Dec")), "{:?}", labels(&days));
        let months = time_ticks(T0, T0 + 200.0 * 86_400e6, 8);
        assert!(labels(&months).contains(&"Jan 2026"), "{:?}", labels(&months));
        let years = time_ticks(T0, T0 + 3000.0 * 86_400e6, 8);
        assert!(distinct(&labels(&years)) && years.iter().all(|t| t.label.len() == 4), "{:?}", labels(&years));
        // Ticks sit inside the range at round times.
        for (lo, hi) in [(T0 + 1.5e6, T0 + 2.2e6), (T0, T0 + 40e6), (T0 + 7e6, T0 + 86_400e6 * 3.3), (T0, T0 + 1e15)] {
            let ticks = time_ticks(lo, hi, 8);
            assert!(ticks.len() >= 2 && ticks.len() <= 8, "{lo}..{hi}: {:?}", labels(&ticks));
            assert!(ticks.iter().all(|t| t.at >= lo && t.at <= hi));
            // No two alike, read as people read them.
            let read = read_as_people_do(&ticks);
            assert!(distinct(&read.iter().map(String::as_str).collect::<Vec<_>>()), "{read:?}");
        }
    }

    /// Each label with the last date written under the axis before it.
    fn read_as_people_do(ticks: &[TimeTick]) -> Vec<String> {
        let mut date = String::new();
        ticks
            .iter()
            .map(|t| {
                if let Some(c) = &t.context {
                    date = c.clone();
                }
                format!("{date} {}", t.label)
            })
            .collect()
    }

    #[test]
    fn time_ticks_read_well_over_many_ranges() {
        // Spans from a millisecond to fifty years, starting anywhere from 1950 on (a fixed pseudo-random walk).
        let mut next = uniform(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let lo = -6.3e14 + next() * 3e15;
            let span = 10f64.powf(3.0 + next() * 12.2);
            let ticks = time_ticks(lo, lo + span, 7);
            assert!((1..=7).contains(&ticks.len()), "{lo} +{span}: {:?}", labels(&ticks));
            assert!(ticks.iter().all(|t| t.at >= lo - 1.0 && t.at <= lo + span + 1.0), "{lo} +{span}");
            let read = read_as_people_do(&ticks);
            assert!(distinct(&read.iter().map(String::as_str).collect::<Vec<_>>()), "{lo} +{span}: {read:?}");
        }
    }

    #[test]
    fn one_point_in_time_gets_a_minute_around_it() {
        let ticks = time_ticks(T0 + 17e6, T0 + 17e6, 8);
        assert!(ticks.len() >= 2 && distinct(&labels(&ticks)), "{:?}", labels(&ticks));
        let series = [Series { name: "psi", points: vec![(T0, 0.05)] }];
        let chart = LineChart {
            title: "one",
            series: &series,
            thresholds: &[],
            markers: &[],
            x_axis: XAxis::Time,
            x_range: None,
        };
        let svg = line_chart(&chart).0;
        assert!(svg.contains("<circle"), "a single point is drawn as a dot");
    }

    #[test]
    fn spread_labels_keep_their_distance() {
        assert_eq!(spread(&[100.0, 104.0], 11.0, 0.0, 200.0), vec![100.0, 111.0]);
        assert_eq!(spread(&[50.0, 10.0], 11.0, 0.0, 200.0), vec![50.0, 10.0], "far apart: unmoved");
        let at_edge = spread(&[195.0, 198.0, 199.0], 11.0, 0.0, 200.0);
        assert_eq!(at_edge, vec![178.0, 189.0, 200.0]);
    }

    #[test]
    fn band_labels_do_not_overlap() {
        let series = [Series { name: "psi", points: vec![(T0, 0.0), (T0 + 60e6, 1.0)] }];
        let bands = [
            Threshold { value: 0.1, label: "warn", colour: "#e69f00" },
            Threshold { value: 0.11, label: "alert", colour: "#c0392b" },
        ];
        let chart = LineChart {
            title: "t",
            series: &series,
            thresholds: &bands,
            markers: &[],
            x_axis: XAxis::Time,
            x_range: None,
        };
        let svg = line_chart(&chart).0;
        let band_ys: Vec<f64> = svg
            .match_indices("class=\"band\"")
            .map(|(i, _)| {
                let before = &svg[..i];
                let y = before.rsplit("y=\"").next().unwrap();
                y[..y.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(band_ys.len(), 2);
        assert!((band_ys[0] - band_ys[1]).abs() >= 11.0, "{band_ys:?}");
        assert!(svg.contains(">warn 0.1<") && svg.contains(">alert 0.11<"), "labels carry their values");
    }

    #[test]
    fn a_line_chart_draws_its_series_thresholds_markers_and_legend_and_escapes_text() {
        let series = [Series { name: "psi <age>", points: vec![(0.0, 0.1), (1.0, 0.3), (2.0, 0.2)] }];
        let warn = Threshold { value: 0.1, label: "warn", colour: "#e69f00" };
        let markers = [
            Marker { at: 1.0, kind: MarkerKind::Alert, label: "alert 7 <critical>".into() },
            Marker { at: 1.5, kind: MarkerKind::Rollback, label: "rollback to v1".into() },
            Marker { at: 1.52, kind: MarkerKind::Override, label: "override by dana".into() },
        ];
        let chart = LineChart {
            title: "drift & more",
            series: &series,
            thresholds: &[warn],
            markers: &markers,
            x_axis: XAxis::Number,
            x_range: None,
        };
        let svg = line_chart(&chart).0;
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("drift &amp; more") && !svg.contains("drift & more"));
        assert_eq!(svg.matches("stroke-width=\"1.8\"").count(), 1, "one series line");
        assert!(svg.contains("stroke-dasharray=\"5 4\""), "threshold line");
        assert!(svg.contains("<title>alert 7 &lt;critical&gt;</title>"), "marker, escaped");
        for kind in ["automatic-rollback", "override", "alert"] {
            assert!(svg.contains(&format!("class=\"marker {kind}\"")), "{kind} marker");
        }
        for name in ["automatic rollback", "override", "alert"] {
            assert!(svg.contains(&format!("class=\"legend\">{name}</text>")), "{name} in the legend");
        }
        assert_eq!(svg.matches("class=\"flag\"").count(), 3, "close markers each keep a flag (stacked)");
    }

    #[test]
    fn markers_outside_the_range_shown_are_left_out() {
        let series = [Series { name: "psi", points: vec![(T0, 0.1), (T0 + 60e6, 0.2)] }];
        let markers = [Marker { at: T0 - 3600e6, kind: MarkerKind::Override, label: "old".into() }];
        let chart = LineChart {
            title: "t",
            series: &series,
            thresholds: &[],
            markers: &markers,
            x_axis: XAxis::Time,
            x_range: Some((T0, T0 + 60e6)),
        };
        let svg = line_chart(&chart).0;
        assert!(!svg.contains("class=\"marker") && !svg.contains("class=\"legend\""));
    }

    #[test]
    fn empty_charts_say_so() {
        let chart =
            LineChart { title: "x", series: &[], thresholds: &[], markers: &[], x_axis: XAxis::Time, x_range: None };
        assert!(line_chart(&chart).0.contains("no data yet"));
        assert!(heat_map("x", &[], &[], 0.1, 0.2, None).0.contains("no data yet"));
        assert!(timeline("x", &[], &[], 0.0).0.contains("never deployed"));
        assert!(grouped_bars("x", &[], &[], None, Values::Share).0.contains("no data yet"));
    }

    #[test]
    fn heat_colours_run_from_white_through_amber_to_red() {
        assert_eq!(heat_colour(0.0, 0.1, 0.25), "#ffffff");
        assert_eq!(heat_colour(0.1, 0.1, 0.25), "#f4be3c");
        assert_eq!(heat_colour(1.0, 0.1, 0.25), "#c82828");
    }

    #[test]
    fn a_heat_map_has_a_cell_per_value_a_colour_legend_and_whole_names() {
        let long = "checking_account_status_in_months_since_opening";
        let rows =
            vec![(long.to_owned(), vec![Some(0.01), None, Some(0.4)]), ("sex".to_owned(), vec![None, None, None])];
        let svg = heat_map("drift", &rows, &[T0, T0 + 60e6, T0 + 120e6], 0.1, 0.25, None).0;
        let legend_start = svg.find("class=\"heat-legend\"").expect("a colour legend");
        assert_eq!(svg[..legend_start].matches("<rect").count(), 6, "a cell per value");
        assert!(svg[legend_start..].contains(">warn 0.1<") && svg[legend_start..].contains(">alert 0.25<"));
        assert!(svg[legend_start..].contains(">no value<"));
        assert!(svg.contains(&format!("<title>{long}</title>")), "the whole name as a tooltip");
        assert!(svg.contains("…"), "a long name is cut short, not clipped");
        assert!(svg.contains(">02:00:00<") || svg.contains(">02:00<"), "time labels: {svg}");
    }

    #[test]
    fn a_pause_in_evaluations_shows_as_a_gap() {
        let spans = cell_spans(&[0.0, 10.0, 20.0, 1000.0], (0.0, 1000.0));
        assert_eq!(spans[1], (5.0, 15.0));
        assert!(spans[2].1 <= 35.0 && spans[3].0 >= 985.0, "{spans:?}");
    }

    #[test]
    fn bars_of_shares_read_as_percentages_and_long_labels_are_cut_short() {
        let labels: Vec<String> = vec!["a very long category name indeed".into(), "b".into()];
        let svg = grouped_bars(
            "shares",
            &labels,
            &[("reference", vec![0.7, 0.3]), ("current", vec![0.2, 0.8])],
            None,
            Values::Share,
        )
        .0;
        assert!(svg.contains(">80%<"), "{svg}");
        assert!(svg.contains("<title>a very long category name indeed · current: 20.0%</title>"));
        assert!(svg.contains("class=\"legend\">reference<") && svg.contains("class=\"legend\">current<"));
    }

    fn event(lane: usize, at: f64, kind: MarkerKind, short: &str) -> LaneEvent {
        LaneEvent { lane, marker: Marker { at, kind, label: format!("{short} (whole)") }, short: short.into() }
    }

    #[test]
    fn timeline_events_are_flagged_and_named_without_overlap() {
        let lanes = vec![(
            "champion".to_owned(),
            vec![
                Segment { from: T0, to: T0 + 50e6, version: "1".into() },
                Segment { from: T0 + 50e6, to: T0 + 3600e6, version: "2".into() },
            ],
        )];
        let mut events = vec![
            event(0, T0 + 50e6, MarkerKind::Override, "override → v2"),
            event(0, T0 + 51e6, MarkerKind::Rollback, "rollback → v1 (alert 3)"),
        ];
        // A burst of moves one second apart: at most three rows, the rest counted in.
        for i in 0..6 {
            events.push(event(0, T0 + 52e6 + i as f64 * 1e6, MarkerKind::ManualMove, "canary → v3"));
        }
        let svg = timeline("deployments", &lanes, &events, T0 + 3600e6).0;
        assert_eq!(svg.matches("<g class=\"event").count(), 8, "every event flagged");
        assert!(svg.contains(">override → v2<") && svg.contains("rollback → v1 (alert 3)"));
        assert!(svg.contains(" +"), "the burst is counted into a shown name");
        for kind in ["override", "automatic rollback", "manual move"] {
            assert!(svg.contains(&format!("class=\"legend\">{kind}<")), "{kind} in the legend");
        }
        // No two shown names of one row overlap.
        let (rows, placed) = place_event_names(&events, 70.0, T0, T0 + 3600e6);
        assert!(rows <= 3);
        let mut spans: Vec<(usize, f64, f64)> = placed
            .iter()
            .filter_map(|p| p.shown.as_ref())
            .map(|(row, x, anchor, text)| {
                let w = text_width(text);
                if *anchor == "end" { (*row, x - w, *x) } else { (*row, *x, x + w) }
            })
            .collect();
        spans.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        for pair in spans.windows(2) {
            if pair[0].0 == pair[1].0 {
                assert!(pair[0].2 <= pair[1].1, "{spans:?}");
            }
        }
    }
}

//! The report's two kinds of chart as inline SVG: horizontal bars (one value per row) and
//! columns (one group per period, one column per series). Every chart is an image with a
//! title and a description for screen readers; every bar has a title (a tooltip) with its
//! exact value. Colours are CSS classes, set by the page's stylesheet.

use std::fmt::Write;

use crate::text::{escape, number};

/// What a chart is: its element id (unique in the page), its title and its description.
pub(crate) struct Chart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
}

/// One row of a bar chart.
pub(crate) struct Bar {
    /// The row's label, left of the bar.
    pub label: String,
    /// The bar's length in the chart's units.
    pub value: f64,
    /// The value as written at the end of the bar.
    pub shown: String,
    /// The bar's CSS class (its colour).
    pub class: &'static str,
}

/// One series of a column chart: its name (in the legend) and CSS class.
pub(crate) struct Series {
    pub name: &'static str,
    pub class: &'static str,
}

const WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 200.0;
/// The longest bar, leaving room after it for a value like `15,444,505.14 USD`.
const BAR_AREA: f64 = 280.0;
const ROW: f64 = 26.0;
const BAR_HEIGHT: f64 = 18.0;
/// Characters of a bar's label drawn before it is cut with `…` (the title has all of it).
const LABEL_CHARS: usize = 28;

/// Opens the `<svg>` element with its accessible name and description.
fn open(out: &mut String, chart: &Chart<'_>, height: f64) {
    let id = chart.id;
    let _ = write!(
        out,
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" \
         preserveAspectRatio=\"xMinYMin meet\" aria-labelledby=\"{id}-title {id}-desc\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(chart.title),
        escape(chart.description)
    );
}

/// A horizontal bar chart, one row per bar, scaled to the largest value.
pub(crate) fn bars(chart: &Chart<'_>, bars: &[Bar]) -> String {
    let height = (bars.len().max(1) as f64) * ROW + 8.0;
    let mut out = String::new();
    open(&mut out, chart, height);
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    for (i, bar) in bars.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW;
        let length = if max > 0.0 {
            (bar.value.max(0.0) / max * BAR_AREA).max(1.0)
        } else {
            0.0
        };
        let text_y = y + BAR_HEIGHT / 2.0 + 4.5;
        let _ = write!(
            out,
            "<g class=\"bar\"><title>{label}: {shown}</title>\
             <text x=\"{lx}\" y=\"{text_y}\" text-anchor=\"end\">{cut}</text>\
             <rect class=\"{class}\" x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{length:.1}\" \
             height=\"{BAR_HEIGHT}\" rx=\"2\"/>\
             <text x=\"{vx:.1}\" y=\"{text_y}\">{shown}</text></g>",
            label = escape(&bar.label),
            shown = escape(&bar.shown),
            lx = LABEL_WIDTH - 8.0,
            cut = escape(&cut(&bar.label, LABEL_CHARS)),
            class = bar.class,
            vx = LABEL_WIDTH + length + 6.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// A column chart: one group of columns per `(label, values)` (one value per series, in the
/// order of `series`), a legend, and a value axis from 0 to a round maximum.
pub(crate) fn columns(
    chart: &Chart<'_>,
    series: &[Series],
    groups: &[(String, Vec<u64>)],
) -> String {
    const HEIGHT: f64 = 250.0;
    const LEFT: f64 = 44.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 36.0;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let plot_width = WIDTH - LEFT - 8.0;
    let mut out = String::new();
    open(&mut out, chart, HEIGHT);

    // The legend, when there is more than one series.
    if series.len() > 1 {
        let mut x = LEFT;
        for s in series {
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{x}\" y=\"6\" width=\"12\" height=\"12\"/>\
                 <text x=\"{}\" y=\"16\">{}</text>",
                s.class,
                x + 16.0,
                escape(s.name)
            );
            x += 24.0 + 8.0 * s.name.chars().count() as f64;
        }
    }

    let max = groups
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .max()
        .unwrap_or(0);
    let top = round_up(max);
    for tick in [0, top / 2, top] {
        let y = TOP + plot_height - (tick as f64 / top as f64) * plot_height;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + plot_width,
            LEFT - 6.0,
            y + 4.0,
            number(tick)
        );
    }

    let slot = plot_width / groups.len().max(1) as f64;
    let column = (slot * 0.8) / series.len().max(1) as f64;
    for (g, (label, values)) in groups.iter().enumerate() {
        let x0 = LEFT + g as f64 * slot + slot * 0.1;
        let _ = write!(out, "<g class=\"group\">");
        for (s, (value, series)) in values.iter().zip(series).enumerate() {
            let h = (*value as f64 / top as f64) * plot_height;
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\">\
                 <title>{}: {} {}</title></rect>",
                series.class,
                x0 + s as f64 * column,
                TOP + plot_height - h,
                (column - 1.0).max(1.0),
                escape(label),
                number(*value),
                escape(series.name),
            );
        }
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
            x0 + slot * 0.4,
            HEIGHT - BOTTOM + 16.0,
            escape(&short_label(label))
        );
    }
    out.push_str("</svg>");
    out
}

/// The top of the value axis: `max` rounded up in its leading digit (`23` → `30`, `999` →
/// `1000`), even when it is a single digit (so the middle tick is whole), and at least 2.
fn round_up(max: u64) -> u64 {
    let mut unit: u64 = 1;
    while max / unit >= 10 {
        unit *= 10;
    }
    let top = max.div_ceil(unit).saturating_mul(unit);
    let top = if unit == 1 && top % 2 == 1 {
        top + 1
    } else {
        top
    };
    top.max(2)
}

/// `2026-W49` → `W49` under a column (the chart's description names the years).
fn short_label(label: &str) -> String {
    match label.split_once("-W") {
        Some((_, week)) if week.len() == 2 => format!("W{week}"),
        _ => label.to_owned(),
    }
}

/// `text` cut to `chars` characters, the last one `…` when cut.
fn cut(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart<'static> {
        Chart {
            id: "c",
            title: "A <title>",
            description: "Bars & columns",
        }
    }

    #[test]
    fn charts_are_named_images_with_escaped_text() {
        let svg = bars(
            &chart(),
            &[Bar {
                label: "<script>alert(1)</script>".into(),
                value: 3.0,
                shown: "3".into(),
                class: "s-new",
            }],
        );
        assert!(svg.starts_with("<svg id=\"c\" class=\"chart\" role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"c-title c-desc\""));
        assert!(svg.contains("<title id=\"c-title\">A &lt;title&gt;</title>"));
        assert!(svg.contains("<desc id=\"c-desc\">Bars &amp; columns</desc>"));
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn bars_scale_to_the_largest_and_long_labels_are_cut() {
        let svg = bars(
            &chart(),
            &[
                Bar {
                    label: "x".repeat(40),
                    value: 10.0,
                    shown: "10".into(),
                    class: "s-new",
                },
                Bar {
                    label: "half".into(),
                    value: 5.0,
                    shown: "5".into(),
                    class: "s-active",
                },
            ],
        );
        assert!(svg.contains(&format!("width=\"{BAR_AREA:.1}\"")));
        assert!(svg.contains(&format!("width=\"{:.1}\"", BAR_AREA / 2.0)));
        assert!(svg.contains(&format!("{}…</text>", "x".repeat(27))));
        assert!(svg.contains(&format!("<title>{}: 10</title>", "x".repeat(40))));
        // No bars, or only zeros: an empty chart, not a division by zero.
        let empty = bars(&chart(), &[]);
        assert!(!empty.contains("NaN") && !empty.contains("inf"));
    }

    #[test]
    fn columns_have_a_round_axis_and_a_title_per_column() {
        let series = [
            Series {
                name: "new",
                class: "w-new",
            },
            Series {
                name: "won",
                class: "w-won",
            },
        ];
        let svg = columns(
            &chart(),
            &series,
            &[
                ("2026-W48".to_owned(), vec![7, 1]),
                ("2026-W49".to_owned(), vec![0, 0]),
            ],
        );
        assert!(svg.contains(">8</text>"), "the axis tops out at 8: {svg}");
        assert!(svg.contains("<title>2026-W48: 7 new</title>"));
        assert!(svg.contains(">W49</text>"));
        assert!(!svg.contains("NaN"));
        let zeros = columns(&chart(), &series, &[("a".to_owned(), vec![0, 0])]);
        assert!(!zeros.contains("NaN") && !zeros.contains("inf"), "{zeros}");
    }

    #[test]
    fn axis_maxima_are_round() {
        let tops: Vec<u64> = [0, 1, 2, 3, 7, 10, 11, 23, 26, 999, 1001]
            .into_iter()
            .map(round_up)
            .collect();
        assert_eq!(tops, [2, 2, 2, 4, 8, 10, 20, 30, 30, 1000, 2000]);
        assert_eq!(round_up(u64::MAX), u64::MAX);
    }
}

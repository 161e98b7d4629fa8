//! The requests chart: stacked bars (accepted, refused, failed) drawn as SVG on the server, so it
//! shows without JavaScript; each bar has a tooltip with its figures, and once hydrated, pointing
//! at a bar shows them in the readout above the chart. The keyboard does the same: the chart is
//! one Tab stop, and the arrow keys (Home, End) move from bar to bar.

use leptos::prelude::*;

use super::{Bucket, UsageReport};
use crate::api_keys::thousands;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// The smallest "round" number (1, 2 or 5 times a power of ten) at or above `n`.
pub fn nice_ceiling(n: i64) -> i64 {
    if n <= 4 {
        return 4;
    }
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step * m * 4 >= n {
                return step * m * 4;
            }
        }
        step *= 10;
    }
}

fn summary(b: &Bucket) -> String {
    let mut text = format!("{}: {} accepted, {} refused", b.label, thousands(b.accepted), thousands(b.refused));
    if b.failed > 0 {
        text.push_str(&format!(", {} failed upstream", thousands(b.failed)));
    }
    if let Some(ms) = b.mean_latency_ms {
        text.push_str(&format!(", mean latency {}", super::pages::latency_text(ms)));
    }
    text
}

#[component]
pub fn UsageChart(report: UsageReport, #[prop(into)] caption: String) -> impl IntoView {
    let hovered = RwSignal::new(None::<usize>);
    let buckets = report.buckets.clone();
    let top = nice_ceiling(buckets.iter().map(Bucket::total).max().unwrap_or(0));
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / buckets.len().max(1) as f64;
    let bar_w = (slot * 0.8).max(1.0);
    let y = move |n: i64| TOP + plot_h - n as f64 / top as f64 * plot_h;
    let totals = format!(
        "{} requests in the last {}: {} accepted, {} refused{}",
        thousands(report.accepted + report.refused + report.failed),
        report.range.label(),
        thousands(report.accepted),
        thousands(report.refused),
        if report.failed > 0 { format!(", {} failed upstream", thousands(report.failed)) } else { String::new() },
    );
    let readout_buckets = buckets.clone();
    let readout = move || match hovered.get().and_then(|i| readout_buckets.get(i)) {
        Some(b) => summary(b),
        None => totals.clone(),
    };
    let grid = (0..=4).map(|i| {
        let value = top * i / 4;
        let gy = y(value);
        view! {
            <line class="gridline" x1=LEFT x2=WIDTH y1=gy y2=gy />
            <text class="axis" x=LEFT - 6.0 y=gy + 4.0 text-anchor="end">{thousands(value)}</text>
        }
    });
    let count = buckets.len();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let last = count.saturating_sub(1);
        let next = match (ev.key().as_str(), hovered.get_untracked()) {
            ("ArrowRight", Some(i)) => (i + 1).min(last),
            ("ArrowLeft", Some(i)) => i.saturating_sub(1),
            ("ArrowRight" | "Home", None) | ("Home", _) => 0,
            ("ArrowLeft" | "End", None) | ("End", _) => last,
            ("Escape", _) => {
                hovered.set(None);
                return;
            }
            _ => return,
        };
        if count > 0 {
            ev.prevent_default();
            hovered.set(Some(next));
        }
    };
    let bars = buckets.into_iter().enumerate().map(|(i, b)| {
        let x = LEFT + i as f64 * slot + (slot - bar_w) / 2.0;
        let segments = [("seg-accepted", b.accepted), ("seg-refused", b.refused), ("seg-failed", b.failed)];
        let mut base = 0i64;
        let rects = segments
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(class, n)| {
                let (y0, y1) = (y(base), y(base + n));
                base += n;
                view! { <rect class=class x=x y=y1 width=bar_w height=(y0 - y1).max(0.5) /> }
            })
            .collect_view();
        let tick = b.tick.clone().map(|t| view! { <text class="axis" x=x + bar_w / 2.0 y=HEIGHT - 6.0 text-anchor="middle">{t}</text> });
        view! {
            <g class="bar" class:selected=move || hovered.get() == Some(i)
                on:mouseenter=move |_| hovered.set(Some(i)) on:mouseleave=move |_| hovered.set(None)>
                <title>{summary(&b)}</title>
                <rect class="hit" x=LEFT + i as f64 * slot y=TOP width=slot height=plot_h />
                {rects}
            </g>
            {tick}
        }
    });
    view! {
        <figure class="chart">
            <figcaption>{caption}</figcaption>
            <p class="chart-readout" aria-live="polite">{readout}</p>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" tabindex="0"
                aria-label="Requests over time, accepted and refused. Left and right arrow keys read each bar above."
                on:keydown=on_key on:blur=move |_| hovered.set(None)>
                {grid.collect_view()}
                {bars.collect_view()}
            </svg>
            <ul class="legend">
                <li><span class="swatch seg-accepted"></span>"Accepted"</li>
                <li><span class="swatch seg-refused"></span>"Refused"</li>
                <li><span class="swatch seg-failed"></span>"Failed upstream"</li>
            </ul>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::nice_ceiling;

    #[test]
    fn axis_tops_are_round_and_above_the_highest_bar() {
        assert_eq!(nice_ceiling(0), 4);
        assert_eq!(nice_ceiling(5), 8);
        assert_eq!(nice_ceiling(37), 40);
        assert_eq!(nice_ceiling(41), 80);
        assert_eq!(nice_ceiling(999), 2000);
        assert_eq!(nice_ceiling(10_000), 20_000);
    }
}

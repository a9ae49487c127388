//! The report's charts as SVG written by code (no script needed to see them): an
//! episode's agent swimlanes, its agent credit bars, and the batch page's box plots and
//! bar charts. Every element is closed explicitly (`<circle></circle>`): inline SVG in an
//! HTML page is parsed by the HTML parser, which does not honour `<circle/>` outside
//! foreign content rules.

use maud::{Markup, html};

use super::{EpisodeView, ParentsView};

/// Horizontal pixels per message in a swimlane: wide for short episodes, narrower (down
/// to this) for long ones, which scroll.
pub const STEP: f64 = 16.0;
/// Pixels per lane.
pub const LANE: f64 = 34.0;
const LEFT: f64 = 120.0;
const TOP: f64 = 24.0;
const R_MIN: f64 = 3.0;
const R_MAX: f64 = 11.0;
const STRIP: f64 = 64.0;

/// Positive credit's colour (blue) and negative credit's (red), and the neutral middle.
pub const BLUE: (u8, u8, u8) = (0x21, 0x66, 0xac);
/// Negative credit's colour.
pub const RED: (u8, u8, u8) = (0xb2, 0x18, 0x2b);
const MID: (u8, u8, u8) = (0xf2, 0xf2, 0xf2);

/// A number for an attribute: one decimal.
fn f1(x: f64) -> String {
    format!("{x:.1}")
}

/// A number for a reader: three decimals, never `-0.000`.
pub fn num(x: f64) -> String {
    let s = format!("{x:.3}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0.000".to_string()
    } else {
        s
    }
}

/// The diverging scale: `t` in [−1, 1] from red through grey to blue.
pub fn diverging(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let end = if t >= 0.0 { BLUE } else { RED };
    let a = t.abs();
    let mix = |m: u8, e: u8| (m as f64 + a * (e as f64 - m as f64)).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(MID.0, end.0),
        mix(MID.1, end.1),
        mix(MID.2, end.2)
    )
}

/// The colour scale of a page: the largest |credit| of any message or agent of its
/// episodes, so that one colour means one credit everywhere on the page.
pub fn page_scale(episodes: &[EpisodeView]) -> f64 {
    max_abs(episodes.iter().flat_map(|e| {
        e.messages
            .iter()
            .filter_map(|m| m.credit)
            .chain(e.agents.iter().map(|a| a.credit))
    }))
}

/// The largest |x| of `xs`, or 1 when all are 0 (a scale never divides by zero).
fn max_abs(xs: impl Iterator<Item = f64>) -> f64 {
    let m = xs
        .filter(|x| x.is_finite())
        .fold(0.0_f64, |m, x| m.max(x.abs()));
    if m > 0.0 { m } else { 1.0 }
}

/// What a message's circle says on hover without the script (its `<title>`).
fn message_title(ep: &EpisodeView, i: usize) -> String {
    let m = &ep.messages[i];
    let mut s = format!(
        "#{i} {}{} — {}",
        m.label
            .as_deref()
            .map(|l| format!("{l} · "))
            .unwrap_or_default(),
        if m.id.is_empty() {
            "(environment)"
        } else {
            &m.id
        },
        m.agent.as_deref().unwrap_or("environment")
    );
    if let Some(c) = m.credit {
        s += &format!("\ncredit {} ± {}", num(c), num(m.se));
    }
    if let Some(r) = m.reward {
        s += &format!("\nreward {}", num(r));
    }
    if let Some(q) = m.score {
        s += &format!("\njudge score {}", num(q));
    }
    if matches!(m.parents, ParentsView::AllEarlier) {
        s += "\ndepends on every earlier message";
    }
    if let Some(t) = &m.text {
        s += "\n";
        s += t;
    }
    s
}

/// An episode's provenance graph as agent swimlanes: the environment lane first, then
/// one lane per agent; x = message order. Listed parents are drawn as edges; a message
/// whose parents are every earlier message gets one bracket instead of its edges (a
/// chat of M messages would otherwise draw M²/2). Colour is signed credit on the
/// diverging scale, radius grows with |credit|. The first error wears a black ring, a
/// gold label a dashed purple one; a failed episode gets a strip of its (repair-aware)
/// training rewards below the lanes.
pub fn swimlane(ep: &EpisodeView, ep_index: usize, scale: f64) -> Markup {
    let n = ep.messages.len();
    let lanes = ep.lanes.len() + 1;
    let lane_of = |m: &super::MessageView| -> usize {
        m.agent
            .as_ref()
            .and_then(|a| ep.lanes.iter().position(|l| l == a))
            .map_or(0, |p| p + 1)
    };
    let step = (900.0 / n.max(1) as f64).clamp(STEP, 44.0);
    let x = |i: usize| LEFT + step * (i as f64 + 0.5);
    let y = |lane: usize| TOP + LANE * (lane as f64 + 0.5);
    let strip = if ep.failed() { STRIP } else { 0.0 };
    let width = LEFT + step * n.max(1) as f64 + 20.0;
    let height = TOP + LANE * lanes as f64 + strip + 8.0;
    let radius = |c: Option<f64>| match c {
        Some(c) if c.is_finite() => R_MIN + (R_MAX - R_MIN) * (c.abs() / scale).sqrt(),
        _ => 4.0,
    };
    let tick = match n {
        0..=40 => 1,
        41..=200 => 5,
        _ => 20,
    };
    // A message's parents drawn as edges: listed ones, and those of an every-earlier
    // message with at most two predecessors (as few edges as a bracket).
    let edges = |i: usize, m: &super::MessageView| -> Vec<u32> {
        match &m.parents {
            ParentsView::Listed(ps) => ps.clone(),
            ParentsView::AllEarlier if i <= 2 => (0..i as u32).collect(),
            _ => Vec::new(),
        }
    };
    let first = ep.first_error.as_ref().map(|f| f.index as usize);
    let gold = ep.gold.as_ref().map(|g| g.step as usize);
    let label = format!(
        "Swimlanes of episode {}: {} messages, {} agents",
        ep.id,
        n,
        ep.lanes.len()
    );
    html! {
        svg class="swimlane" xmlns="http://www.w3.org/2000/svg" width=(f1(width)) height=(f1(height))
            viewBox={"0 0 " (f1(width)) " " (f1(height))} role="group" aria-label=(label) {
            // Lanes.
            @for l in 0..lanes {
                line class="lane" x1=(f1(LEFT - 6.0)) x2=(f1(width - 10.0)) y1=(f1(y(l))) y2=(f1(y(l))) {}
                text class="lane-label" x="4" y=(f1(y(l) + 4.0)) {
                    @if l == 0 { "environment" } @else { (ep.lanes[l - 1]) }
                }
            }
            // Message positions.
            @for i in (0..n).step_by(tick) {
                text class="tick" x=(f1(x(i))) y=(f1(TOP - 6.0)) text-anchor="middle" { (i) }
            }
            // Listed parent edges.
            @for (i, m) in ep.messages.iter().enumerate() {
                @for p in edges(i, m) {
                    {
                        @let (x0, y0) = (x(p as usize), y(lane_of(&ep.messages[p as usize])));
                        @let (x1, y1) = (x(i), y(lane_of(m)));
                        path class="edge" d={"M" (f1(x0)) " " (f1(y0)) "C" (f1((x0 + x1) / 2.0)) " " (f1(y0)) " " (f1((x0 + x1) / 2.0)) " " (f1(y1)) " " (f1(x1)) " " (f1(y1))} {}
                    }
                }
            }
            // Markers, then the messages on top.
            @for (i, m) in ep.messages.iter().enumerate() {
                @let (cx, cy, r) = (x(i), y(lane_of(m)), radius(m.credit));
                @if matches!(m.parents, ParentsView::AllEarlier) && i > 2 {
                    path class="all-earlier" d={"M" (f1(cx - r - 2.0)) " " (f1(cy - 9.0)) "h-4v18h4"} {}
                }
                @if first == Some(i) {
                    circle class="first-error" cx=(f1(cx)) cy=(f1(cy)) r=(f1(r + 3.5)) {}
                    text class="mark" x=(f1(cx)) y=(f1(cy - r - 6.0)) text-anchor="middle" { "first error" }
                }
                @if gold == Some(i) {
                    circle class="gold" cx=(f1(cx)) cy=(f1(cy)) r=(f1(r + 7.0)) {}
                    text class="mark gold-mark" x=(f1(cx)) y=(f1(cy + r + 16.0)) text-anchor="middle" { "gold" }
                }
                // The `<title>` is the group's accessible name (SVG's own labelling rule).
                g class="msg" tabindex="0" data-ep=(ep_index) data-m=(i) role="img" {
                    title { (message_title(ep, i)) }
                    @match m.credit {
                        Some(c) => circle cx=(f1(cx)) cy=(f1(cy)) r=(f1(r)) fill=(diverging(c / scale)) {},
                        None => circle class="env" cx=(f1(cx)) cy=(f1(cy)) r=(f1(r)) {},
                    }
                }
            }
            @if ep.failed() {
                @let base = TOP + LANE * lanes as f64 + STRIP / 2.0;
                @let rscale = max_abs(ep.messages.iter().filter_map(|m| m.reward));
                text class="lane-label" x="4" y=(f1(base + 4.0)) { "reward" }
                line class="axis" x1=(f1(LEFT - 6.0)) x2=(f1(width - 10.0)) y1=(f1(base)) y2=(f1(base)) {}
                @for (i, m) in ep.messages.iter().enumerate() {
                    @if let Some(r) = m.reward {
                        @let h = (r / rscale) * (STRIP / 2.0 - 6.0);
                        rect class="reward" x=(f1(x(i) - step * 0.3)) width=(f1(step * 0.6))
                            y=(f1(if h >= 0.0 { base - h } else { base })) height=(f1(h.abs().max(0.5)))
                            fill=(diverging(r / rscale)) {
                            title { "#" (i) " reward " (num(r)) }
                        }
                    }
                }
            }
        }
    }
}

/// The credit colour legend: the diverging scale from −max to +max.
pub fn legend(max: f64) -> Markup {
    let stops = 11;
    html! {
        svg class="legend" xmlns="http://www.w3.org/2000/svg" width="300" height="34" viewBox="0 0 300 34"
            role="img" aria-label="Colour legend: red is negative credit, blue positive; radius grows with |credit|" {
            @for k in 0..stops {
                @let t = -1.0 + 2.0 * k as f64 / (stops - 1) as f64;
                rect x=(f1(40.0 + 20.0 * k as f64)) y="2" width="20" height="12" fill=(diverging(t)) {}
            }
            text x="36" y="12" text-anchor="end" { (num(-max)) }
            text x="264" y="12" { (num(max)) }
            text x="150" y="28" text-anchor="middle" { "one scale for the page: red = blame, blue = credit" }
        }
    }
}

/// An episode's agent credits as signed horizontal bars, and their sum beside R − R0
/// (efficiency: the two are equal).
pub fn agent_bars(ep: &EpisodeView, scale: f64) -> Markup {
    let row = 20.0;
    let half = 150.0;
    let axis = 130.0 + half;
    let sum: f64 = ep.agents.iter().map(|a| a.credit).sum();
    let height = row * ep.agents.len() as f64 + 34.0;
    let target = ep.reward - ep.baseline;
    html! {
        svg class="bars" xmlns="http://www.w3.org/2000/svg" width="560" height=(f1(height))
            viewBox={"0 0 560 " (f1(height))} role="img"
            aria-label={"Agent credits of episode " (ep.id) ", summing to " (num(sum))} {
            line class="axis" x1=(f1(axis)) x2=(f1(axis)) y1="0" y2=(f1(row * ep.agents.len() as f64)) {}
            @for (k, a) in ep.agents.iter().enumerate() {
                @let w = a.credit / scale * half;
                @let yy = row * k as f64;
                text class="lane-label" x="4" y=(f1(yy + 14.0)) { (a.agent) }
                rect class="bar" x=(f1(if w >= 0.0 { axis } else { axis + w })) y=(f1(yy + 3.0))
                    width=(f1(w.abs().max(0.5))) height=(f1(row - 6.0)) fill=(diverging(a.credit / scale)) data-credit=(a.credit) {
                    title { (a.agent) ": credit " (num(a.credit)) " ± " (num(a.se)) }
                }
                text class="value" x=(f1(axis + half + 8.0)) y=(f1(yy + 14.0)) { (num(a.credit)) }
            }
            text class="sum" x="4" y=(f1(height - 8.0)) data-sum=(sum) data-target=(target) {
                "Σ credit = " (num(sum)) " · R − R0 = " (num(ep.reward)) " − " (num(ep.baseline)) " = " (num(target))
            }
        }
    }
}

/// Vertical bars of counts with a label under each bar.
pub fn histogram(label: &str, bins: &[(String, u64)]) -> Markup {
    let bar = 22.0;
    let height = 120.0;
    let max = bins.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let left = 56.0;
    let width = left + 10.0 + bar * bins.len() as f64;
    html! {
        svg class="hist" xmlns="http://www.w3.org/2000/svg" width=(f1(width)) height=(f1(height + 30.0))
            viewBox={"0 0 " (f1(width)) " " (f1(height + 30.0))} role="img" aria-label=(label) {
            line class="axis" x1=(f1(left - 4.0)) x2=(f1(width)) y1=(f1(height)) y2=(f1(height)) {}
            text class="tick" x=(f1(left - 6.0)) y="14" text-anchor="end" { (max as u64) }
            @for (k, (name, count)) in bins.iter().enumerate() {
                @let h = *count as f64 / max * (height - 10.0);
                rect class="count" x=(f1(left + bar * k as f64)) y=(f1(height - h)) width=(f1(bar - 3.0)) height=(f1(h)) {
                    title { (name) ": " (count) }
                }
                text class="tick" x=(f1(left + bar * k as f64 + (bar - 3.0) / 2.0)) y=(f1(height + 12.0)) text-anchor="middle" { (name) }
            }
        }
    }
}

/// Horizontal bars of counts, one row per name, with the count written beside.
pub fn count_bars(label: &str, rows: &[(String, u64)]) -> Markup {
    let row = 20.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let height = row * rows.len() as f64 + 4.0;
    html! {
        svg class="counts" xmlns="http://www.w3.org/2000/svg" width="520" height=(f1(height))
            viewBox={"0 0 520 " (f1(height))} role="img" aria-label=(label) {
            @for (k, (name, count)) in rows.iter().enumerate() {
                @let yy = row * k as f64;
                text class="lane-label" x="4" y=(f1(yy + 14.0)) { (name) }
                rect class="count" x="190" y=(f1(yy + 3.0)) width=(f1((*count as f64 / max * 260.0).max(0.5))) height=(f1(row - 6.0)) {
                    title { (name) ": " (count) }
                }
                text class="value" x="458" y=(f1(yy + 14.0)) { (count) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{EpisodeView, MessageView};
    use creditflow::io::scored::{ScoredAgent, ScoredFirstError};

    fn view(parents: impl Fn(usize) -> ParentsView, n: usize, failed: bool) -> EpisodeView {
        let agents = ["a", "b", "c"];
        EpisodeView {
            title: Some("invoke_workflow coordinator".into()),
            id: "e".into(),
            branch: if failed { "failure" } else { "success" }.into(),
            reward: 1.0,
            baseline: 0.25,
            method: "exact".into(),
            samples: 0,
            flags: vec![],
            agents: vec![
                ScoredAgent {
                    agent: "a".into(),
                    credit: 1.0,
                    se: 0.0,
                },
                ScoredAgent {
                    agent: "b".into(),
                    credit: -0.5,
                    se: 0.0,
                },
                ScoredAgent {
                    agent: "c".into(),
                    credit: 0.25,
                    se: 0.0,
                },
            ],
            lanes: agents.iter().map(|a| a.to_string()).collect(),
            messages: (0..n)
                .map(|i| MessageView {
                    id: format!("m{i}"),
                    agent: (i > 0).then(|| agents[i % 3].to_string()),
                    credit: (i > 0).then_some(0.1 * i as f64 - 0.3),
                    se: 0.0,
                    reward: (i > 0).then_some(0.1),
                    score: None,
                    text: None,
                    parents: parents(i),
                    label: (i == 1).then(|| "execute_tool search".to_string()),
                })
                .collect(),
            first_error: failed.then(|| ScoredFirstError {
                index: 2,
                message: creditflow::schema::Id("m2".into()),
                agent: "c".into(),
                method: "label".into(),
            }),
            gold: None,
            joined: true,
        }
    }

    fn count(s: &str, pat: &str) -> usize {
        s.matches(pat).count()
    }

    #[test]
    fn a_prefix_chat_draws_brackets_not_edges() {
        let n = 40;
        let ep = view(
            |i| {
                if i == 0 {
                    ParentsView::Listed(vec![])
                } else {
                    ParentsView::AllEarlier
                }
            },
            n,
            false,
        );
        let svg = swimlane(&ep, 0, page_scale(std::slice::from_ref(&ep))).into_string();
        // Messages 1 and 2 draw their one and two edges; the rest a bracket each.
        assert_eq!(count(&svg, "class=\"all-earlier\""), n - 3);
        assert_eq!(count(&svg, "class=\"edge\""), 3);
        assert_eq!(count(&svg, "class=\"msg\""), n);
        // One lane per agent and the environment's.
        assert_eq!(count(&svg, "class=\"lane\""), 4);
        assert!(svg.contains(">environment<"));
        assert_eq!(count(&svg, "<title>"), n);
        // No self-closed SVG elements (the HTML parser would nest what follows).
        assert!(!svg.contains("/>"));
    }

    #[test]
    fn listed_parents_are_edges_and_failures_get_a_reward_strip() {
        let ep = view(
            |i| {
                ParentsView::Listed(if i == 0 {
                    vec![]
                } else {
                    vec![0, i as u32 - 1]
                })
            },
            6,
            true,
        );
        let svg = swimlane(&ep, 3, page_scale(std::slice::from_ref(&ep))).into_string();
        // Message 1 lists 0 twice over (0 and i − 1 = 0): two edges; the others two each.
        assert_eq!(count(&svg, "class=\"edge\""), 2 * 5);
        assert_eq!(count(&svg, "class=\"all-earlier\""), 0);
        assert_eq!(count(&svg, "class=\"first-error\""), 1);
        assert_eq!(count(&svg, "class=\"reward\""), 5);
        assert!(svg.contains("data-ep=\"3\""));
    }

    #[test]
    fn the_bars_sum_to_r_minus_r0() {
        let ep = view(|_| ParentsView::Unknown, 3, false);
        let svg = agent_bars(&ep, page_scale(std::slice::from_ref(&ep))).into_string();
        let credits: Vec<f64> = svg
            .split("data-credit=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
            .collect();
        assert_eq!(credits, [1.0, -0.5, 0.25]);
        let sum: f64 = credits.iter().sum();
        assert!((sum - (ep.reward - ep.baseline)).abs() < 1e-12);
        assert!(svg.contains("Σ credit = 0.750"), "{svg}");
        assert!(svg.contains("= 0.750<"), "{svg}");
        // A negative bar extends left of the axis.
        assert!(
            svg.contains(&format!("x=\"{}\"", f1(280.0 - 75.0))),
            "{svg}"
        );
    }

    #[test]
    fn the_scale_diverges_from_red_to_blue() {
        assert_eq!(diverging(1.0), "#2166ac");
        assert_eq!(diverging(-1.0), "#b2182b");
        assert_eq!(diverging(0.0), "#f2f2f2");
        assert_eq!(diverging(f64::NAN), "#f2f2f2");
        assert_eq!(num(-0.0001), "0.000");
        assert_eq!(num(-0.5), "-0.500");
    }
}

//! The report page (maud templates): the batch section (counts, distributions, gold
//! accuracy, links to the embedded episodes) and one section per embedded episode
//! (swimlanes, agent credit bars, first error, gold label). The embedded episodes' data
//! is inlined once as JSON; the script only fills a details panel on hover or focus, and
//! marks the page (`data-ready="ok"`, or `data-error` with the message) so that a
//! headless browser can tell it ran; `data-script-ms` is the time from navigation to
//! the script's end (the page parsed), which `bench/report.sh` reads.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::json;

use super::aggregate::{OTHER_AGENTS, POSITION_BINS};
use super::svg::{self, num};
use super::{EpisodeView, ParentsView, Report};

/// Agents listed in the batch page's agent table (those in the most episodes).
pub const TABLE_AGENTS: usize = 50;

/// Episodes with more messages than this list their messages folded (a click opens them).
const OPEN_MESSAGE_TABLE: usize = 40;

const CSS: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;background:#fff}
header,main{max-width:1100px;margin:0 auto;padding:0 20px}
header{border-bottom:1px solid #ddd}
h1{font-size:22px;margin:16px 0 4px}h2{font-size:18px;margin:28px 0 6px}h3{font-size:15px;margin:18px 0 4px}
dl.summary{display:grid;grid-template-columns:max-content max-content;gap:2px 16px}
dl.summary dt{color:#555}dl.summary dd{margin:0;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;border:1px solid #eee;border-radius:4px;margin:6px 0}
svg text{font:11px system-ui,sans-serif;fill:#333}
svg .note{fill:#666}svg .mark{font-weight:600;fill:#000}svg .gold-mark{fill:#7b3294}
svg .lane{stroke:#e4e4e4;stroke-width:1}svg .axis{stroke:#999;stroke-width:1}
svg .edge{fill:none;stroke:#8a8a8a;stroke-opacity:.55;stroke-width:1}
svg .all-earlier{fill:none;stroke:#777;stroke-width:1.2}
svg .msg circle{stroke:#333;stroke-width:.6}svg .msg circle.env{fill:#c8c8c8}
svg .msg:focus{outline:none}svg .msg:focus circle,svg .msg:hover circle,svg .msg.active circle{stroke:#000;stroke-width:2}
svg .first-error{fill:none;stroke:#000;stroke-width:2.5}
svg .gold{fill:none;stroke:#7b3294;stroke-width:2;stroke-dasharray:3 2}
svg .count{fill:#6b8fb8}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr.first-error td{font-weight:600}
table.messages td{max-width:520px;overflow-wrap:anywhere}
.details{display:block;min-height:2.9em;padding:6px 8px;background:#f6f6f6;border-radius:4px;white-space:pre-wrap}
.meta{color:#444}.flag{display:inline-block;padding:0 6px;margin-right:4px;border-radius:8px;background:#fde2c8}
.fail{color:#b2182b;font-weight:600}.ok{color:#2166ac;font-weight:600}
ol.sample{columns:3;font-size:13px}
article.episode{content-visibility:auto;contain-intrinsic-size:auto 640px}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}
";

/// Installed before anything else runs, so any script error lands in the page.
const ONERROR: &str = "window.onerror=function(m,s,l,c,e){document.documentElement.setAttribute('data-error',String(m)+' (line '+l+')');};";

const SCRIPT: &str = r#"(function(){
var data=JSON.parse(document.getElementById('data').textContent);
function f(x){return x==null?'-':Number(x).toFixed(3);}
function show(g){
var k=+g.getAttribute('data-ep'),i=+g.getAttribute('data-m');
var e=data.episodes[k],m=e.messages[i],out=document.getElementById('detail-'+k);
if(!out)return;
var s='#'+i+' '+(m.label?m.label+' \u00b7 ':'')+(m.id||'(environment)')+' \u2014 '+(m.agent||'environment');
if(m.credit!=null)s+='\ncredit '+f(m.credit)+' \u00b1 '+f(m.se)+'   reward '+f(m.reward);
if(m.score!=null)s+='   judge score '+f(m.score);
if(m.text!=null)s+='\n'+m.text;
out.textContent=s;
var p=document.querySelector('.msg.active');if(p)p.classList.remove('active');
g.classList.add('active');}
var gs=document.querySelectorAll('.msg');
for(var j=0;j<gs.length;j++){(function(g){
g.addEventListener('mouseenter',function(){show(g);});
g.addEventListener('focus',function(){show(g);});})(gs[j]);}
document.documentElement.setAttribute('data-script-ms',String(Math.round(performance.now())));
document.documentElement.setAttribute('data-ready','ok');
})();"#;

/// The anchor of the k-th embedded episode.
pub fn anchor(k: usize) -> String {
    format!("ep-{k}")
}

/// The page data: the embedded episodes' messages (and the batch's headline counts), as
/// JSON safe inside a `<script>` element (every `<` escaped).
fn data_json(report: &Report) -> String {
    let episodes: Vec<_> = report
        .episodes
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "title": e.title,
                "branch": e.branch,
                "reward": e.reward,
                "baseline": e.baseline,
                "messages": e.messages.iter().map(|m| json!({
                    "id": m.id, "agent": m.agent, "credit": m.credit, "se": m.se,
                    "reward": m.reward, "score": m.score, "text": m.text, "label": m.label,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let batch = report.batch.as_ref().map(|b| {
        json!({"episodes": b.episodes, "failures": b.failures, "games": b.games,
               "errors": b.errors.0.values().sum::<u64>()})
    });
    json!({"batch": batch, "episodes": episodes})
        .to_string()
        .replace('<', "\\u003c")
}

fn batch_section(report: &Report) -> Markup {
    let Some(b) = &report.batch else {
        return html! {};
    };
    let errors: u64 = b.errors.0.values().sum();
    let branches = vec![
        ("success".to_string(), b.episodes - b.failures),
        ("failure".to_string(), b.failures),
    ];
    let methods: Vec<(String, u64)> = b.methods.0.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let mut flags: Vec<(String, u64)> = b.flags.0.iter().map(|(k, v)| (k.clone(), *v)).collect();
    flags.push(("(no flag)".to_string(), b.unflagged));
    // Positions up to the last one used (at least ten bins).
    let used = b
        .first_error_positions
        .iter()
        .rposition(|&c| c > 0)
        .map_or(0, |p| p + 1)
        .max(10);
    let positions: Vec<(String, u64)> = b
        .first_error_positions
        .iter()
        .take(used)
        .enumerate()
        .map(|(i, c)| {
            let label = if i + 1 == POSITION_BINS {
                format!("{i}+")
            } else {
                i.to_string()
            };
            (label, *c)
        })
        .collect();
    let blamed: Vec<(String, u64)> = b
        .agents
        .iter()
        .filter(|a| a.blamed > 0)
        .map(|a| (a.name.clone(), a.blamed))
        .collect();
    let mut rows: Vec<_> = b.agents.iter().collect();
    rows.sort_by(|x, y| {
        y.credits
            .count()
            .cmp(&x.credits.count())
            .then_with(|| x.name.cmp(&y.name))
    });
    rows.truncate(TABLE_AGENTS);
    // Embedded episodes by id, for links from the most-blamed list.
    let embedded: std::collections::HashMap<&str, usize> = report
        .episodes
        .iter()
        .enumerate()
        .map(|(k, e)| (e.id.as_str(), k))
        .collect();
    let failed_shown = report.episodes.iter().filter(|e| e.failed()).count();
    html! {
        section id="batch" {
            h2 { "Batch" }
            dl class="summary" {
                dt { "episodes" } dd { (b.episodes) }
                dt { "success / failure" } dd { (b.episodes - b.failures) " / " (b.failures) }
                dt { "game records" } dd { (b.games) }
                dt { "error records" } dd {
                    (errors)
                    @for (k, v) in &b.errors.0 { " · " (k) " " (v) }
                }
                dt { "mean reward R" } dd { (num(b.rewards.mean())) }
                dt { "largest |Σ credit − (R − R0)|" } dd {
                    @if b.max_efficiency_gap == 0.0 { "0" } @else { (format!("{:.2e}", b.max_efficiency_gap)) }
                }
            }
            h3 { "Branches" }
            (svg::count_bars("Episodes per branch", &branches))
            h3 { "Estimators" }
            (svg::count_bars("Episodes per estimator", &methods))
            h3 { "Flags" }
            (svg::count_bars("Episodes per flag", &flags))
            h3 { "First-error positions (failed episodes)" }
            p class="meta" {
                "Message index of the first error; " (b.no_first_error) " failed episodes have none."
            }
            @if b.failures > b.no_first_error {
                (svg::histogram("Failed episodes by first-error position", &positions))
            }
            @if !blamed.is_empty() {
                h3 { "Blamed agents (first errors)" }
                (svg::count_bars("First errors per agent", &blamed))
            }
            h3 { "Agents" }
            p class="meta" {
                "Credit per episode the agent took part in: mean ± standard error of the mean, and the range. "
                "Blamed: failed episodes whose first error it made. "
                @if rows.len() < b.agents.len() { "The " (TABLE_AGENTS) " agents in the most episodes are listed. " }
                @if b.agents.iter().any(|a| a.name == OTHER_AGENTS) {
                    "Agents past the first " (super::aggregate::MAX_AGENTS) " names pool into “" (OTHER_AGENTS) "”."
                }
            }
            table class="agents" {
                tr { th { "agent" } th class="n" { "episodes" } th class="n" { "mean credit" } th class="n" { "± SE" }
                     th class="n" { "min" } th class="n" { "max" } th class="n" { "blamed" } }
                @for a in &rows {
                    tr {
                        td { (a.name) }
                        td class="n" { (a.credits.count()) }
                        td class="n" { (num(a.credits.mean())) }
                        td class="n" { (num(a.credits.se())) }
                        @match a.credits.box_stats() {
                            Some(s) => { td class="n" { (num(s.min)) } td class="n" { (num(s.max)) } }
                            None => { td class="n" { "-" } td class="n" { "-" } }
                        }
                        td class="n" { (a.blamed) }
                    }
                }
            }
            @if !b.most_blamed.is_empty() {
                h3 { "Most-blamed messages" }
                p class="meta" { "The " (b.most_blamed.len()) " messages of lowest credit in the batch." }
                table class="blamed" {
                    tr { th { "episode" } th { "message" } th class="n" { "#" } th { "agent" } th class="n" { "credit" } }
                    @for m in &b.most_blamed {
                        tr {
                            td {
                                @match embedded.get(m.episode.as_str()) {
                                    Some(&k) => a href={"#" (anchor(k))} { (report.episodes[k].name()) },
                                    None => (m.episode),
                                }
                                @if let Some(url) = report.trace_link(&m.episode) { " " a href=(url) { "trace" } }
                            }
                            td { code { (m.message) } }
                            td class="n" { (m.index) }
                            td { (m.agent) }
                            td class="n" { (num(m.credit)) }
                        }
                    }
                }
            }
            @if let Some(g) = &report.gold {
                h3 { "Gold labels" }
                table {
                    tr { th { "subset" } th { "episodes" } th { "agent accuracy" } th { "step accuracy" } th { "no prediction" } }
                    @for (name, c) in g.subsets.iter().map(|(k, v)| (k.as_str(), v)).chain([("overall", &g.overall)]) {
                        tr {
                            td { (name) } td { (c.total) }
                            td { (format!("{:.1}%", 100.0 * c.agent_accuracy())) }
                            td { (format!("{:.1}%", 100.0 * c.step_accuracy())) }
                            td { (c.missing + c.no_prediction) }
                        }
                    }
                }
            }
            h3 { "Embedded episodes" }
            p class="meta" {
                (report.episodes.len()) " of " (b.episodes) " episodes are drawn below: the first "
                (failed_shown) " failed ones in file order, then the first successful ones, "
                (report.sample) " at most (--sample)."
                @if report.unjoined > 0 {
                    " " (report.unjoined) " of them were not found in --input (or did not match it): drawn without environment messages or edges."
                }
            }
            ol class="sample" {
                @for (k, e) in report.episodes.iter().enumerate() {
                    li { a href={"#" (anchor(k))} { (e.name()) } @if e.failed() { " " span class="fail" { "✗" } } }
                }
            }
        }
    }
}

fn episode_section(report: &Report, e: &EpisodeView, k: usize, scale: f64) -> Markup {
    html! {
        article class="episode" id=(anchor(k)) {
            h2 { "Episode " (e.name()) }
            p class="meta" {
                @if e.title.is_some() { "id " code { (e.id) } " · " }
                @if let Some(url) = report.trace_link(&e.id) { a href=(url) { "open the trace" } " · " }
                @if e.failed() { span class="fail" { "failure" } } @else { span class="ok" { "success" } }
                " · R = " (num(e.reward)) " · R0 = " (num(e.baseline))
                " · method " (e.method)
                @if e.samples > 0 { " (" (e.samples) " permutations)" }
                " · "
                @if e.flags.is_empty() { "no flags" }
                @for f in &e.flags { span class="flag" { (f) } }
            }
            @if let Some(fe) = &e.first_error {
                p { "First error: message " strong { (fe.message.0) } " (#" (fe.index) ") by " strong { (fe.agent) } ", found by " (fe.method) "." }
            }
            @if let Some(g) = &e.gold {
                p { "Gold label: " strong { (g.agent) } " at step " (g.step)
                    @match &e.first_error {
                        Some(fe) if u64::from(fe.index) == g.step => " — the first error matches.",
                        Some(_) => " — the first error differs.",
                        None => " — no first error predicted.",
                    }
                }
            }
            @if e.failed() {
                p class="meta" { "The strip under the lanes shows each message's training reward on the failure branch (repair-aware: repairs after the first error are rewarded, messages building on it penalised)." }
            }
            @if !e.joined {
                p class="meta" { "Without the input episode (--input): environment messages are grey placeholders, edges and texts are not shown." }
            }
            (svg::legend(scale))
            @if e.messages.iter().enumerate().any(|(i, m)| i > 2 && m.parents == ParentsView::AllEarlier) {
                p class="meta" { "A bracket [ before a message: it depends on every earlier message (those edges are not drawn)." }
            }
            div class="scroll" { (svg::swimlane(e, k, scale)) }
            output class="details" id={"detail-" (k)} aria-live="polite" {
                "Hover over or tab to a message for its details (each circle also has a tooltip)."
            }
            (message_table(e))
            h3 { "Agent credit" }
            (svg::agent_bars(e, scale))
        }
    }
}

/// An episode's messages as a table: what each is (its label, else the first words of
/// its text), who wrote it, and its numbers — readable without hovering.
fn message_table(e: &EpisodeView) -> Markup {
    let rows = html! {
        table class="messages" {
            tr { th class="n" { "#" } th { "message" } th { "agent" } th class="n" { "credit" } th class="n" { "± SE" }
                 th class="n" { "reward" } th class="n" { "judge" } }
            @for (i, m) in e.messages.iter().enumerate() {
                tr class=[e.first_error.as_ref().filter(|f| f.index as usize == i).map(|_| "first-error")] {
                    td class="n" { (i) }
                    td { (what(m)) }
                    td { (m.agent.as_deref().unwrap_or("environment")) }
                    td class="n" { @if let Some(c) = m.credit { (num(c)) } }
                    td class="n" { @if m.credit.is_some() { (num(m.se)) } }
                    td class="n" { @if let Some(r) = m.reward { (num(r)) } }
                    td class="n" { @if let Some(s) = m.score { (num(s)) } }
                }
            }
        }
    };
    html! {
        @if e.messages.len() > OPEN_MESSAGE_TABLE {
            details { summary { "Messages (" (e.messages.len()) ")" } (rows) }
        } @else {
            h3 { "Messages" }
            (rows)
        }
    }
}

/// What a message is: its label (span or tool name), else the first words of its text,
/// else its id.
fn what(m: &super::MessageView) -> String {
    if let Some(l) = &m.label {
        return l.clone();
    }
    if let Some(t) = m.text.as_deref().filter(|t| !t.trim().is_empty()) {
        let words: Vec<&str> = t.split_whitespace().take(8).collect();
        let mut s = words.join(" ");
        if t.split_whitespace().count() > 8 {
            s.push('…');
        }
        return s;
    }
    if m.id.is_empty() {
        "(environment)".to_string()
    } else {
        m.id.clone()
    }
}

/// The whole page.
pub fn page(report: &Report) -> Markup {
    let scale = svg::page_scale(&report.episodes);
    let heading = match (&report.batch, report.episodes.first()) {
        (None, Some(e)) => format!("Episode {}", e.name()),
        _ => "Batch".to_string(),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "creditflow report — " (report.title) " — " (heading) }
                style { (PreEscaped(CSS)) }
                script { (PreEscaped(ONERROR)) }
            }
            body {
                header {
                    h1 { "creditflow report" }
                    p class="meta" { (report.title) " · " (heading)
                        @if !report.with_input { " · without --input" } }
                }
                main {
                    (batch_section(report))
                    @for (k, e) in report.episodes.iter().enumerate() {
                        (episode_section(report, e, k, scale))
                    }
                }
                script type="application/json" id="data" { (PreEscaped(data_json(report))) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

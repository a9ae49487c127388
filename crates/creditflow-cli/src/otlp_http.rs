//! OTLP/HTTP with JSON bodies, the way `export otel --endpoint` sends evaluation records
//! to a collector or a backend: `POST {endpoint}/v1/logs`, `Content-Type:
//! application/json`, gzip, headers from `--header K=V` and `OTEL_EXPORTER_OTLP_HEADERS`,
//! retries with exponential backoff on the statuses the OTLP specification calls
//! retryable (429, 502, 503, 504; `Retry-After` honoured) and on connection errors, and a
//! clear error naming status and response on anything else. Plain `http://` only: a TLS
//! backend is reached through a local OpenTelemetry Collector (docs/traces.md).
//!
//! The documents of one export (one per episode) are merged into requests of at most
//! [`BATCH_BYTES`] of JSON, so a batch of 10^6 episodes is not 10^6 round trips.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// Uncompressed JSON per request, at most (documents larger than this go alone).
pub const BATCH_BYTES: usize = 4 << 20;
/// Attempts per request (the first and four retries).
const ATTEMPTS: u32 = 5;
/// The first backoff; it doubles on each retry (1, 2, 4, 8 s), capped at 30 s.
const BACKOFF: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// `host:port` to connect to.
    pub authority: String,
    /// The request path (`…/v1/logs`).
    pub path: String,
    /// Extra request headers, in order.
    pub headers: Vec<(String, String)>,
}

impl Endpoint {
    /// `url` is `http://host[:port][/base]`: the path gets `/v1/logs` appended unless it
    /// already ends so (the rule of `OTEL_EXPORTER_OTLP_ENDPOINT`, which also makes a
    /// signal-specific URL work as given). `env_headers` is the value of
    /// `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values percent-encoded); `--header`
    /// values win over it for the same key.
    pub fn new(url: &str, flags: &[String], env_headers: Option<&str>) -> Result<Self> {
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some(("https", _)) => bail!(
                "--endpoint {url}: https is not supported; send to a local OpenTelemetry Collector (otlphttp receiver) that forwards over TLS, or write a file with -o for its otlpjsonfile receiver"
            ),
            _ => bail!("--endpoint {url}: expected http://HOST[:PORT][/PATH]"),
        };
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains(['@', '?', '#', ' ']) {
            bail!("--endpoint {url}: expected http://HOST[:PORT][/PATH]");
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']'))
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let base = base.trim_end_matches('/');
        let path = if base.ends_with("/v1/logs") {
            base.to_string()
        } else {
            format!("{base}/v1/logs")
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        let set = |k: &str, v: String, headers: &mut Vec<(String, String)>| {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.to_string(), v));
        };
        for pair in env_headers
            .unwrap_or("")
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| anyhow!("OTEL_EXPORTER_OTLP_HEADERS: `{pair}` is not KEY=VALUE"))?;
            let k = check_header_name(k.trim(), "OTEL_EXPORTER_OTLP_HEADERS")?;
            set(&k, percent_decode(v.trim())?, &mut headers);
        }
        for flag in flags {
            let (k, v) = flag
                .split_once('=')
                .ok_or_else(|| anyhow!("--header {flag}: expected KEY=VALUE"))?;
            let k = check_header_name(k.trim(), "--header")?;
            if v.contains(['\r', '\n']) {
                bail!("--header {k}: the value holds a line break");
            }
            set(&k, v.trim().to_string(), &mut headers);
        }
        Ok(Endpoint {
            authority,
            path,
            headers,
        })
    }
}

fn check_header_name(k: &str, what: &str) -> Result<String> {
    let ok = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let reserved = [
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "connection",
    ];
    if !ok {
        bail!("{what}: `{k}` is not a header name");
    }
    if reserved.iter().any(|r| k.eq_ignore_ascii_case(r)) {
        bail!("{what}: `{k}` is set by creditflow");
    }
    Ok(k.to_string())
}

fn percent_decode(v: &str) -> Result<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = v
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("OTEL_EXPORTER_OTLP_HEADERS: bad %-escape in `{v}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out)
        .map_err(|_| anyhow!("OTEL_EXPORTER_OTLP_HEADERS: `{v}` is not UTF-8"))?;
    if s.contains(['\r', '\n']) {
        bail!("OTEL_EXPORTER_OTLP_HEADERS: a value holds a line break");
    }
    Ok(s)
}

/// What a send did.
#[derive(Debug, Default, PartialEq)]
pub struct Sent {
    /// Requests accepted.
    pub requests: usize,
    /// Log records sent.
    pub records: usize,
    /// Records the receiver said it rejected (`partialSuccess.rejectedLogRecords`).
    pub rejected: u64,
    /// Retries made.
    pub retries: u32,
}

/// Sends every OTLP/JSON document of `lines` (one per line, as `export otel` writes them)
/// to `to`, merged into requests of at most [`BATCH_BYTES`].
pub fn send(lines: impl BufRead, to: &Endpoint) -> Result<Sent> {
    let mut sent = Sent::default();
    let mut batch: Vec<serde_json::Value> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut batch_records = 0usize;
    for (n, line) in lines.lines().enumerate() {
        let line = line.context("reading the evaluation records")?;
        if line.trim().is_empty() {
            continue;
        }
        let doc: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("evaluation records line {}", n + 1))?;
        let logs = doc
            .get("resourceLogs")
            .and_then(|v| v.as_array())
            .ok_or_else(|| anyhow!("evaluation records line {}: no resourceLogs", n + 1))?;
        let records: usize = logs
            .iter()
            .flat_map(|r| r["scopeLogs"].as_array().into_iter().flatten())
            .map(|s| s["logRecords"].as_array().map_or(0, Vec::len))
            .sum();
        if batch_bytes > 0 && batch_bytes + line.len() > BATCH_BYTES {
            post_batch(&mut batch, to, &mut sent)?;
            sent.records += batch_records;
            batch_bytes = 0;
            batch_records = 0;
        }
        batch.extend(logs.iter().cloned());
        batch_bytes += line.len();
        batch_records += records;
    }
    if !batch.is_empty() {
        post_batch(&mut batch, to, &mut sent)?;
        sent.records += batch_records;
    }
    Ok(sent)
}

fn post_batch(batch: &mut Vec<serde_json::Value>, to: &Endpoint, sent: &mut Sent) -> Result<()> {
    let body = serde_json::to_vec(&serde_json::json!({ "resourceLogs": std::mem::take(batch) }))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body)?;
    let body = gz.finish()?;
    let mut wait = BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let outcome = post(to, &body);
        let retry_after = match outcome {
            Ok(Response { status, body, .. }) if (200..300).contains(&status) => {
                sent.requests += 1;
                sent.rejected += rejected(&body);
                return Ok(());
            }
            Ok(Response {
                status,
                retry_after,
                ..
            }) if matches!(status, 429 | 502 | 503 | 504) && attempt < ATTEMPTS => {
                eprintln!(
                    "export: {} answered {status}; retrying ({attempt}/{})",
                    to.authority,
                    ATTEMPTS - 1
                );
                retry_after
            }
            Ok(Response { status, body, .. }) => {
                let text = String::from_utf8_lossy(&body);
                let text: String = text.chars().take(300).collect();
                bail!(
                    "export: http://{}{} answered {status}{}{}",
                    to.authority,
                    to.path,
                    if text.trim().is_empty() { "" } else { ": " },
                    text.trim()
                );
            }
            Err(e) if attempt < ATTEMPTS => {
                eprintln!(
                    "export: sending to {} failed ({e:#}); retrying ({attempt}/{})",
                    to.authority,
                    ATTEMPTS - 1
                );
                None
            }
            Err(e) => {
                return Err(e.context(format!(
                    "export: sending to http://{}{} failed after {ATTEMPTS} attempts",
                    to.authority, to.path
                )));
            }
        };
        sent.retries += 1;
        std::thread::sleep(retry_after.unwrap_or(wait).min(Duration::from_secs(30)));
        wait *= 2;
    }
    unreachable!("the last attempt returns")
}

/// `partialSuccess.rejectedLogRecords` of a response body, when it says so.
fn rejected(body: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let n = &v["partialSuccess"]["rejectedLogRecords"];
            n.as_u64()
                .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0)
}

struct Response {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

/// One HTTP/1.1 POST on a fresh connection (`Connection: close`).
fn post(to: &Endpoint, body: &[u8]) -> Result<Response> {
    let addr = to
        .authority
        .to_socket_addrs()
        .with_context(|| format!("resolving {}", to.authority))?
        .next()
        .ok_or_else(|| anyhow!("{} resolves to no address", to.authority))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .with_context(|| format!("connecting to {}", to.authority))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: creditflow/{}\r\n",
        to.path,
        to.authority,
        body.len(),
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in &to.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP response: {:?}", status_line.trim()))?;
    let mut length = None;
    let mut chunked = false;
    let mut retry_after = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => length = v.parse::<usize>().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "retry-after" => retry_after = v.parse::<u64>().ok().map(Duration::from_secs),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    let limit = 1 << 20;
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| anyhow!("bad chunk size {:?}", size.trim()))?;
            if n == 0 || body.len() + n > limit {
                break;
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = length {
        reader.take(n.min(limit) as u64).read_to_end(&mut body)?;
    } else {
        reader.take(limit as u64).read_to_end(&mut body)?;
    }
    Ok(Response {
        status,
        retry_after,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_headers() {
        let e = Endpoint::new("http://localhost:4318", &[], None).unwrap();
        assert_eq!(
            (e.authority.as_str(), e.path.as_str()),
            ("localhost:4318", "/v1/logs")
        );
        let e = Endpoint::new("http://collector/otel/", &[], None).unwrap();
        assert_eq!(
            (e.authority.as_str(), e.path.as_str()),
            ("collector:80", "/otel/v1/logs")
        );
        let e = Endpoint::new("http://[::1]:9/v1/logs", &[], None).unwrap();
        assert_eq!(
            (e.authority.as_str(), e.path.as_str()),
            ("[::1]:9", "/v1/logs")
        );
        let e = Endpoint::new(
            "http://h:1",
            &["x-api-key=flag".into()],
            Some("Authorization=Basic%20abc%3D, x-api-key=env"),
        )
        .unwrap();
        assert_eq!(
            e.headers,
            [
                ("Authorization".to_string(), "Basic abc=".to_string()),
                ("x-api-key".to_string(), "flag".to_string())
            ]
        );
        for bad in ["https://h", "ftp://h", "http://", "localhost:4318"] {
            assert!(Endpoint::new(bad, &[], None).is_err(), "{bad}");
        }
        for bad in ["novalue", "bad name=v", "Host=x", "k=a\nb"] {
            assert!(
                Endpoint::new("http://h", &[bad.into()], None).is_err(),
                "{bad}"
            );
        }
        assert!(Endpoint::new("http://h", &[], Some("k=%zz")).is_err());
    }
}

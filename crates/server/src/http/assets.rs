//! The web front ends, embedded with rust-embed (read from disk in debug builds,
//! compiled in for release).
//!
//! Each file is prepared once, on its first request, and kept: JavaScript
//! compacted (`compact_js`), then gzip and brotli encodings computed up front,
//! so a request costs a lookup and a copy of a reference-counted buffer, never
//! a compression. [`negotiate`], a layer on both listeners, picks the encoding
//! the client accepts (`Vary: Accept-Encoding`) and answers a matching
//! `If-None-Match` with `304 Not Modified`. Handlers keep calling [`serve`].

mod compact_js;

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, LazyLock, OnceLock},
};

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use sha2::{Digest, Sha256};

#[derive(rust_embed::Embed)]
#[folder = "../../web/"]
struct Web;

/// The loader's URL is fixed (merchants paste it into their pages), so it
/// cannot carry a version: browsers may reuse it for five minutes without
/// asking, which spares most repeat page views a request, and after that
/// revalidate with the `ETag` (a 304 of a few hundred bytes). A release
/// reaches every visitor within those five minutes.
const LOADER_CACHE: &str = "public, max-age=300";
/// Everything else is addressed by plain paths and imported by files that
/// must match it, so browsers revalidate on every use (`no-cache` still
/// stores the file; the answer is a 304 while it is unchanged).
const REVALIDATE: &str = "no-cache";

/// Bodies below this are not worth compressing.
const MIN_COMPRESS: usize = 256;

/// One file, ready to send in every encoding.
struct Asset {
    identity: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
    /// Hex of the content's hash; each encoding's `ETag` adds a suffix (an
    /// encoded body is a different representation, RFC 9110 §8.8.3).
    tag: String,
    mime: HeaderValue,
    cache: &'static str,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Asset {
    fn prepare(path: &str, data: &[u8], mime: &str) -> Self {
        let is_script = std::path::Path::new(path)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("js"));
        let identity: Bytes = if is_script {
            match std::str::from_utf8(data) {
                Ok(text) => Bytes::from(compact_js::compact(text)),
                Err(_) => Bytes::copy_from_slice(data),
            }
        } else {
            Bytes::copy_from_slice(data)
        };
        let compressible = identity.len() >= MIN_COMPRESS
            && (mime.starts_with("text/")
                || mime.contains("javascript")
                || mime.contains("json")
                || mime.contains("svg"));
        let smaller = |encoded: Option<Vec<u8>>| {
            encoded
                .filter(|e| e.len() < identity.len())
                .map(Bytes::from)
        };
        let (gzip, brotli) = if compressible {
            (smaller(gzip(&identity)), smaller(brotli(&identity)))
        } else {
            (None, None)
        };
        let digest = Sha256::digest(&identity);
        let tag = digest[..12]
            .iter()
            .fold(String::with_capacity(24), |mut hex, b| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{b:02x}");
                hex
            });
        Self {
            gzip,
            brotli,
            tag,
            mime: HeaderValue::from_str(mime)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            cache: if path == "widget/widget.js" {
                LOADER_CACHE
            } else {
                REVALIDATE
            },
            identity,
        }
    }

    fn body(&self, encoding: Encoding) -> Bytes {
        match encoding {
            Encoding::Identity => self.identity.clone(),
            Encoding::Gzip => self.gzip.clone().unwrap_or_default(),
            Encoding::Brotli => self.brotli.clone().unwrap_or_default(),
        }
    }

    fn etag(&self, encoding: Encoding) -> String {
        match encoding {
            Encoding::Identity => format!("\"{}\"", self.tag),
            Encoding::Gzip => format!("\"{}-gz\"", self.tag),
            Encoding::Brotli => format!("\"{}-br\"", self.tag),
        }
    }
}

fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

fn brotli(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).ok()?;
    Some(out)
}

/// Every embedded file's slot, filled on first request. The map's keys are
/// fixed at first use, so no lock is needed; a file added to `web/` while a
/// debug build runs is prepared on each request instead.
static PREPARED: LazyLock<HashMap<String, OnceLock<Option<Arc<Asset>>>>> = LazyLock::new(|| {
    Web::iter()
        .map(|path| (path.into_owned(), OnceLock::new()))
        .collect()
});

fn load(path: &str) -> Option<Arc<Asset>> {
    let read = || {
        let file = Web::get(path)?;
        let mime = file.metadata.mimetype().to_owned();
        Some(Arc::new(Asset::prepare(path, &file.data, &mime)))
    };
    match PREPARED.get(path) {
        Some(slot) => slot.get_or_init(read).clone(),
        None => read(),
    }
}

/// Marks a response as a prepared asset, for [`negotiate`] to encode.
#[derive(Clone)]
struct Prepared(Arc<Asset>);

/// Serves `web/<path>`, or 404.
pub fn serve(path: &str) -> Response {
    if path.split('/').any(|seg| seg == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(asset) = load(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = Response::new(Body::from(asset.identity.clone()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, asset.mime.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(asset.cache));
    if let Ok(etag) = HeaderValue::from_str(&asset.etag(Encoding::Identity)) {
        headers.insert(header::ETAG, etag);
    }
    if asset.gzip.is_some() || asset.brotli.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response.extensions_mut().insert(Prepared(asset));
    response
}

/// Serves `web/<path>` after `transform` (used to fill the demo page's
/// identity). The result differs per request, so it is neither prepared nor
/// cached.
pub fn serve_with(path: &str, transform: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Response {
    if path.split('/').any(|seg| seg == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(file) = Web::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = file.metadata.mimetype().to_owned();
    let mut response = transform(file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Whether an asset exists (tests use it to walk every file).
pub fn exists(path: &str) -> bool {
    Web::get(path).is_some()
}

/// The loader as served without compression (benchmarks and tests measure it).
pub fn compacted(path: &str) -> Option<Bytes> {
    load(path).map(|asset| asset.identity.clone())
}

/// Layer: sends a prepared asset in the encoding the client prefers, or
/// `304 Not Modified` when the client's copy is current.
pub async fn negotiate(request: Request, next: Next) -> Response {
    let accept = request.headers().get(header::ACCEPT_ENCODING).cloned();
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let mut response = next.run(request).await;
    let Some(Prepared(asset)) = response.extensions_mut().remove::<Prepared>() else {
        return response;
    };
    if response.status() != StatusCode::OK {
        return response;
    }
    let encoding = choose(accept.as_ref(), &asset);
    let etag = asset.etag(encoding);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if if_none_match.is_some_and(|tags| matches_any(&tags, &etag)) {
        let mut headers = std::mem::take(response.headers_mut());
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::CONTENT_LENGTH);
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        *not_modified.headers_mut() = headers;
        return not_modified;
    }
    if encoding != Encoding::Identity {
        let value = if encoding == Encoding::Gzip {
            "gzip"
        } else {
            "br"
        };
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(value));
        headers.remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(asset.body(encoding));
    }
    response
}

/// The best encoding `Accept-Encoding` allows among those the asset has:
/// highest weight first, brotli before gzip at equal weight.
fn choose(accept: Option<&HeaderValue>, asset: &Asset) -> Encoding {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Encoding::Identity;
    };
    let weight = |name: &str| accepted_weight(accept, name);
    let mut best = (Encoding::Identity, 0u16);
    for (encoding, available, name) in [
        (Encoding::Brotli, asset.brotli.is_some(), "br"),
        (Encoding::Gzip, asset.gzip.is_some(), "gzip"),
    ] {
        let w = weight(name);
        if available && w > best.1 {
            best = (encoding, w);
        }
    }
    best.0
}

/// The weight (0-1000) `accept` gives `name`, directly or through `*`.
fn accepted_weight(accept: &str, name: &str) -> u16 {
    let mut star = 0;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or_default().trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(1000, parse_q);
        if token.eq_ignore_ascii_case(name) {
            return q;
        }
        if token == "*" {
            star = q;
        }
    }
    star
}

/// `q` values have at most three decimals (RFC 9110 §12.4.2); anything
/// unreadable counts as 0 (not acceptable).
fn parse_q(q: &str) -> u16 {
    let q = q.trim();
    let (whole, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().unwrap_or(0);
    match whole {
        "1" => 1000,
        "0" | "" => frac_value,
        _ => 0,
    }
}

/// Weak comparison, as `If-None-Match` asks (RFC 9110 §13.1.2).
fn matches_any(tags: &HeaderValue, etag: &str) -> bool {
    let Ok(tags) = tags.to_str() else {
        return false;
    };
    tags.split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset() -> Asset {
        Asset::prepare(
            "x.js",
            "let a = 1;\n".repeat(100).as_bytes(),
            "text/javascript",
        )
    }

    #[test]
    fn brotli_is_preferred_and_weights_are_read() {
        let asset = asset();
        let pick = |s: &str| choose(Some(&HeaderValue::from_str(s).unwrap()), &asset);
        assert_eq!(pick("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(pick("gzip"), Encoding::Gzip);
        assert_eq!(pick("br;q=0, gzip"), Encoding::Gzip);
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Encoding::Gzip);
        assert_eq!(pick("*"), Encoding::Brotli);
        assert_eq!(pick("identity"), Encoding::Identity);
        assert_eq!(pick("gzip;q=nonsense"), Encoding::Identity);
        assert_eq!(choose(None, &asset), Encoding::Identity);
    }

    #[test]
    fn if_none_match_is_compared_weakly() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert!(matches_any(&v("\"a\", W/\"b\""), "\"b\""));
        assert!(matches_any(&v("*"), "\"b\""));
        assert!(!matches_any(&v("\"a\""), "\"a-br\""));
    }

    #[test]
    fn encodings_decode_to_the_same_bytes() {
        let asset = asset();
        let mut gz = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&asset.gzip.clone().unwrap()[..]),
            &mut gz,
        )
        .unwrap();
        assert_eq!(gz, asset.identity);
        let mut br = Vec::new();
        brotli::BrotliDecompress(&mut &asset.brotli.clone().unwrap()[..], &mut br).unwrap();
        assert_eq!(br, asset.identity);
    }

    /// Every JavaScript file we serve still parses after compaction.
    #[test]
    fn compacted_scripts_parse() {
        if std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_err()
        {
            panic!("node is needed to check the compacted scripts");
        }
        for path in Web::iter().filter(|p| p.ends_with(".js")) {
            let compacted = compacted(&path).unwrap();
            // Compacting again changes nothing: a scanner that misread a
            // string, regex or template the first time would read the
            // shortened text differently.
            let text = std::str::from_utf8(&compacted).unwrap();
            assert_eq!(compact_js::compact(text), text, "{path}");
            let mut child = std::process::Command::new("node")
                .args(["--input-type=module", "--check"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&compacted).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

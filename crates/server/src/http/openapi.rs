//! The OpenAPI 3.1 description of the REST API under `/api/v1`, served at
//! `/api/v1/openapi.json`.
//!
//! Written by hand next to this file (`openapi.json`) rather than generated
//! from annotations: the handlers take `serde_json::Value` in several places
//! and a generator would describe those as "any object". Drift is caught by
//! `tests/openapi.rs`, which compares the document with the router's routes
//! (both ways) and asks the running server for each documented one.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`: public, like any published API description.
pub async fn document() -> Response {
    let mut response = DOCUMENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::DOCUMENT;

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(target)) => found.push(target),
                        _ => refs(v, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    /// The structure OpenAPI 3.1 asks for: version, info, paths whose
    /// operations have unique ids and responses, path parameters declared
    /// for every `{name}`, security naming declared schemes, and every
    /// `$ref` resolving inside the document.
    #[test]
    fn the_document_is_well_formed_openapi_3_1() {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("the document is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        let schemes = doc["components"]["securitySchemes"]
            .as_object()
            .expect("security schemes");
        for name in ["session", "csrf", "apiKey"] {
            assert!(schemes.contains_key(name), "{name}");
        }
        let mut ids = std::collections::HashSet::new();
        let paths = doc["paths"].as_object().expect("paths");
        assert!(!paths.is_empty());
        for (path, item) in paths {
            assert!(path.starts_with("/api/v1/"), "{path}");
            for (method, op) in item.as_object().expect("path item") {
                assert!(
                    ["get", "put", "post", "delete", "patch"].contains(&method.as_str()),
                    "{path}: {method}"
                );
                let id = op["operationId"].as_str().expect("operationId");
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses.keys().any(|c| c.starts_with('2')),
                    "{method} {path} has no success response"
                );
                let params: Vec<&str> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .map(|p| p["name"].as_str().expect("parameter name"))
                            .collect()
                    })
                    .unwrap_or_default();
                let in_path: Vec<&str> = path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                    .collect();
                assert_eq!(params, in_path, "{method} {path}: path parameters");
                for requirement in op["security"].as_array().expect("security") {
                    for scheme in requirement.as_object().expect("requirement").keys() {
                        assert!(schemes.contains_key(scheme), "{method} {path}: {scheme}");
                    }
                }
            }
        }
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let pointer = target.strip_prefix('#').expect("local $ref");
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }
    }
}

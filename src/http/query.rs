//! Query parameters of the management routes: each route names the ones it takes; a parameter
//! given twice, or one the route does not take, is refused the same way everywhere
//! (`invalid_query`), instead of one being picked or ignored in silence.

use std::collections::BTreeMap;

use actix_web::HttpRequest;

use super::error::ApiError;
use crate::domain::Violations;

/// The parameters of `req`, which may only be those in `known`, each at most once; or every
/// problem with them.
pub(super) fn params(
    req: &HttpRequest,
    known: &[&'static str],
) -> Result<BTreeMap<&'static str, String>, ApiError> {
    let mut v = Violations::default();
    let mut found = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match known.iter().find(|k| **k == key) {
            Some(name) => {
                if found.insert(*name, value.into_owned()).is_some() {
                    v.add(key, "must be given at most once");
                }
            }
            None => v.add(
                key,
                match known {
                    [] => "is not a parameter: this route takes none".to_owned(),
                    _ => format!(
                        "is not a parameter of this route, which takes {}",
                        known.join(", ")
                    ),
                },
            ),
        }
    }
    if !v.is_empty() {
        return Err(ApiError::InvalidQuery(v));
    }
    Ok(found)
}

/// `?cascade=`: `true` or `false` (the default), and no other parameter.
pub(super) fn cascade(req: &HttpRequest) -> Result<bool, ApiError> {
    flag(req, "cascade")
}

/// `?name=`: `true` or `false` (the default), and no other parameter.
pub(super) fn flag(req: &HttpRequest, name: &'static str) -> Result<bool, ApiError> {
    match params(req, &[name])?.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::InvalidQuery({
            let mut v = Violations::default();
            v.add(name, "must be `true` or `false`");
            v
        })),
    }
}

/// `?include=` as given, and no other parameter.
pub(super) fn include(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    Ok(params(req, &["include"])?.remove("include"))
}

/// For routes that take no parameters.
pub(super) fn none(req: &HttpRequest) -> Result<(), ApiError> {
    params(req, &[]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn problems(uri: &str, known: &[&'static str]) -> BTreeMap<String, String> {
        match params(&TestRequest::with_uri(uri).to_http_request(), known) {
            Err(ApiError::InvalidQuery(v)) => v.to_map(),
            other => panic!("{uri}: {other:?}"),
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused_alike_everywhere() {
        let ok = params(
            &TestRequest::with_uri("/x?cascade=true").to_http_request(),
            &["cascade"],
        )
        .unwrap();
        assert_eq!(ok["cascade"], "true");
        let p = problems("/x?cascade=true&cascade=false&force=1", &["cascade"]);
        assert_eq!(p["cascade"], "must be given at most once");
        assert!(p["force"].contains("takes cascade"), "{p:?}");
        let p = problems("/x?anything=1", &[]);
        assert!(p["anything"].contains("takes none"), "{p:?}");
        assert!(none(&TestRequest::with_uri("/x").to_http_request()).is_ok());
    }
}

//! The route and method of a request as bounded label values, for metrics and log fields.
//!
//! The route is the pattern poem's router matched: `Route` attaches a [`PathPattern`] to
//! the innermost response (or error), and the request middleware in `telemetry` reads it
//! once the response is back. There is no list of routes here to drift from the router: a
//! new route gets its own label. Usernames never become label values, because a matched
//! pattern holds `:username`, never the name, and a request no route matched is `other`.
//!
//! [`PathPattern`]: poem::PathPattern

use poem::http::Method;
use poem_openapi::OpenApi;

/// The label of a request no route matched, so unknown paths add no label values.
pub const OTHER: &str = "other";

/// Turns the pattern the router matched into the route label.
///
/// Two things of the router need the app's help, both given once at startup:
/// - a nested router that matched nothing answers 404 tagged with its own mount point
///   (poem's `nest` is itself a route of the outer router), so a bare mount point means
///   "no route" and is labelled `other`;
/// - poem-openapi registers its operations under parameter names of its own
///   (`/msgs/:param0`), so the names the operation declares (`{username}`) are taken back
///   from its documented path.
#[derive(Clone, Debug, Default)]
pub struct RouteLabels {
    /// Where nested routers are mounted, e.g. `/api`.
    mounts: Vec<String>,
    /// The documented paths of the poem-openapi operations, mount point included, split
    /// into segments: `["api", "msgs", "{username}"]`.
    documented: Vec<Vec<String>>,
}

impl RouteLabels {
    /// `mounts`: the mount points of nested routers; `documented`: the documented paths of
    /// the OpenAPI operations, mount point included (see [`documented_paths`]).
    pub fn new(mounts: &[&str], documented: impl IntoIterator<Item = String>) -> RouteLabels {
        RouteLabels {
            mounts: mounts
                .iter()
                .map(|m| m.trim_end_matches('/').to_owned())
                .collect(),
            documented: documented.into_iter().map(|p| segments(&p)).collect(),
        }
    }

    /// The label for a request whose innermost response carried `pattern` (`None` when no
    /// router matched it, or when it was answered before routing).
    pub fn label(&self, pattern: Option<&str>) -> String {
        let Some(pattern) = pattern else {
            return OTHER.to_owned();
        };
        if self
            .mounts
            .iter()
            .any(|m| m == pattern.trim_end_matches('/'))
        {
            return OTHER.to_owned();
        }
        let matched = segments(pattern);
        if !matched.iter().any(|s| s.starts_with(':')) {
            return pattern.to_owned();
        }
        match self.documented.iter().find_map(|doc| named(&matched, doc)) {
            Some(named) => named,
            None => pattern.to_owned(),
        }
    }
}

/// The documented paths of the operations of `T` under `mount`, e.g. `/api/msgs/{username}`.
pub fn documented_paths<T: OpenApi>(mount: &str) -> Vec<String> {
    T::meta()
        .into_iter()
        .flat_map(|api| api.paths)
        .map(|path| format!("{}{}", mount.trim_end_matches('/'), path.path))
        .collect()
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `matched` with each `:param` renamed to the `{name}` at the same place in `documented`,
/// if the two are the same path (same fixed segments, parameters in the same places).
fn named(matched: &[String], documented: &[String]) -> Option<String> {
    if matched.len() != documented.len() {
        return None;
    }
    let mut label = String::new();
    for (m, d) in matched.iter().zip(documented) {
        let param = d.strip_prefix('{').and_then(|d| d.strip_suffix('}'));
        match (m.starts_with(':'), param) {
            (true, Some(name)) => {
                label.push_str("/:");
                label.push_str(name);
            }
            (false, None) if m == d => {
                label.push('/');
                label.push_str(m);
            }
            _ => return None,
        }
    }
    Some(label)
}

/// The method as a label: the standard ones by name, anything else as `OTHER`, so custom
/// methods cannot add label values either.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> RouteLabels {
        RouteLabels::new(
            &["/api"],
            [
                "/api/msgs".to_owned(),
                "/api/msgs/{username}".to_owned(),
                "/api/fllws/{username}".to_owned(),
            ],
        )
    }

    #[test]
    fn matched_patterns_are_the_labels() {
        let labels = labels();
        for pattern in [
            "/",
            "/public",
            "/:username",
            "/:username/follow",
            "/messages/:id/hide",
            "/static/*path",
            "/api/stream",
            "/api/msgs",
        ] {
            assert_eq!(labels.label(Some(pattern)), pattern);
        }
    }

    #[test]
    fn openapi_parameters_get_their_declared_names() {
        let labels = labels();
        assert_eq!(
            labels.label(Some("/api/msgs/:param0")),
            "/api/msgs/:username"
        );
        assert_eq!(
            labels.label(Some("/api/fllws/:param0")),
            "/api/fllws/:username"
        );
    }

    #[test]
    fn unrouted_requests_and_bare_mount_points_are_other() {
        let labels = labels();
        assert_eq!(labels.label(None), OTHER);
        assert_eq!(labels.label(Some("/api")), OTHER);
        assert_eq!(labels.label(Some("/api/")), OTHER);
    }

    #[test]
    fn the_documented_paths_come_from_the_operations() {
        let paths = documented_paths::<crate::api::openapi::Operations>("/api");
        assert!(
            paths.contains(&"/api/msgs/{username}".to_owned()),
            "{paths:?}"
        );
        assert!(paths.contains(&"/api/latest".to_owned()), "{paths:?}");
    }

    #[test]
    fn custom_methods_do_not_add_labels() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"BREW").expect("valid token");
        assert_eq!(method_label(&custom), "OTHER");
    }
}

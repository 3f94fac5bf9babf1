//! Finding the operation a request is for: the spec's path templates (`/teams/{team-id}/…`)
//! indexed once, matched segment by segment, the most literal match winning.

use serde_json::Value;

use crate::document::Document;

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// One operation of the spec.
#[derive(Debug)]
pub(crate) struct Operation {
    /// `operationId`, or `METHOD template` when the spec gives none.
    pub(crate) id: String,
    /// JSON Pointer of the operation object.
    pub(crate) pointer: String,
    /// JSON Pointer of its path item (for path-level parameters).
    pub(crate) item_pointer: String,
}

#[derive(Debug)]
struct Route {
    method: String,
    segments: Vec<Segment>,
    template: String,
    operation: Operation,
}

/// A template segment: literal text and `{name}` parameters, e.g. `{id}.json` → [param, lit].
#[derive(Debug)]
struct Segment(Vec<Part>);

#[derive(Debug)]
enum Part {
    Literal(String),
    Param(String),
}

/// Every operation of a spec.
#[derive(Debug)]
pub(crate) struct Routes(Vec<Route>);

/// The operation a request matched and the values of its path parameters.
#[derive(Debug)]
pub(crate) struct Found<'r> {
    pub(crate) operation: &'r Operation,
    pub(crate) path_values: Vec<(String, String)>,
}

impl Routes {
    pub(crate) fn index(doc: &Document) -> Result<Self, String> {
        let paths = doc
            .root
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the spec has no `paths`")?;
        let mut routes = Vec::new();
        for (template, item) in paths {
            let item_pointer = format!("/paths/{}", escape(template));
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let id = op.get("operationId").and_then(Value::as_str).map_or_else(
                    || format!("{} {template}", method.to_uppercase()),
                    str::to_owned,
                );
                routes.push(Route {
                    method: (*method).to_owned(),
                    segments: template.split('/').map(Segment::parse).collect(),
                    template: template.clone(),
                    operation: Operation {
                        id,
                        pointer: format!("{item_pointer}/{method}"),
                        item_pointer: item_pointer.clone(),
                    },
                });
            }
        }
        Ok(Routes(routes))
    }

    /// The best-matching operation for `method` and `path`.
    pub(crate) fn find(&self, method: &str, path: &str) -> Result<Found<'_>, Vec<String>> {
        let method = method.to_ascii_lowercase();
        let request: Vec<&str> = path.split('/').collect();
        let mut matches: Vec<(&Route, Vec<(String, String)>)> = self
            .0
            .iter()
            .filter_map(|route| route.matches(&request).map(|values| (route, values)))
            .collect();
        if matches.is_empty() {
            return Err(vec![format!(
                "{} {path}: no operation of the spec has this path",
                method.to_uppercase()
            )]);
        }
        // The most literal template wins: `/webhooks/{id}/{token}/slack` over `{a}/{b}/{c}`.
        matches.sort_by_key(|(route, values)| values.len() * 1000 + route.template.len());
        let allowed: Vec<String> = matches
            .iter()
            .map(|(r, _)| r.method.to_uppercase())
            .collect();
        matches
            .into_iter()
            .find(|(route, _)| route.method == method)
            .map(|(route, path_values)| Found {
                operation: &route.operation,
                path_values,
            })
            .ok_or_else(|| {
                vec![format!(
                    "{} {path}: the spec has this path only for {allowed:?}",
                    method.to_uppercase()
                )]
            })
    }
}

impl Route {
    fn matches(&self, request: &[&str]) -> Option<Vec<(String, String)>> {
        if request.len() != self.segments.len() {
            return None;
        }
        let mut values = Vec::new();
        for (segment, text) in self.segments.iter().zip(request) {
            values.extend(segment.matches(text)?);
        }
        Some(values)
    }
}

impl Segment {
    fn parse(text: &str) -> Segment {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            parts.push(Part::Param(rest[open + 1..open + close].to_owned()));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Segment(parts)
    }

    /// The parameter values if `text` matches; a parameter takes the shortest non-empty text
    /// up to the next literal.
    fn matches(&self, text: &str) -> Option<Vec<(String, String)>> {
        if self.0.is_empty() {
            return text.is_empty().then(Vec::new);
        }
        let mut values = Vec::new();
        let mut rest = text;
        for (i, part) in self.0.iter().enumerate() {
            match part {
                Part::Literal(lit) => rest = rest.strip_prefix(lit.as_str())?,
                Part::Param(name) => {
                    let end = match self.0.get(i + 1) {
                        Some(Part::Literal(next)) => rest.get(1..)?.find(next.as_str())? + 1,
                        _ => rest.len(),
                    };
                    if end == 0 {
                        return None;
                    }
                    values.push((name.clone(), rest[..end].to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(values)
    }
}

/// JSON Pointer escaping of one reference token.
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

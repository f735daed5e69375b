//! The jq filters Pith evaluates (the header content guard's `jq_filter`, the trusted
//! proxy's `AUTHENTICATION_JSON_HEADER_JQ_FILTER`): paths only — `.a.b`, `.a[0]`, `."a-b"`,
//! `.["a"]`, `.`. Other jq programs are refused where they are configured, so nothing
//! silently never matches.

use serde_json::Value;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A parsed jq path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JqPath(Vec<Step>);

impl JqPath {
    /// Parses `p`; `Err` says it is not a path.
    pub fn parse(p: &str) -> Result<JqPath, String> {
        jq_path(p).map(JqPath)
    }

    /// The value at the path in `doc`, if there is one.
    pub fn select<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        select(doc, &self.0)
    }
}

/// The jq filters Pith evaluates: paths (`.a.b`, `.a[0]`, `."a-b"`, `.["a"]`, `.`). Other jq
/// programs are refused when the guard is created, so no guard silently never matches.
fn jq_path(p: &str) -> Result<Vec<Step>, String> {
    let unsupported = || {
        format!("Pith evaluates jq paths only (such as .identity.org_id or .groups[0]), not {p:?}.")
    };
    let s = p.trim();
    let b = s.as_bytes();
    if b.first() != Some(&b'.') {
        return Err(unsupported());
    }
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' if i + 1 == b.len() && steps.is_empty() => i += 1,
            b'.' if b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'[') => i += 1,
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j == start {
                    return Err(unsupported());
                }
                steps.push(Step::Key(s[start..j].to_owned()));
                i = j;
            }
            b'"' => {
                let end = s[i + 1..].find('"').ok_or_else(unsupported)? + i + 1;
                steps.push(Step::Key(s[i + 1..end].to_owned()));
                i = end + 1;
            }
            b'[' => {
                let end = s[i..].find(']').ok_or_else(unsupported)? + i;
                let inner = s[i + 1..end].trim();
                if let Some(k) = inner.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
                    steps.push(Step::Key(k.to_owned()));
                } else {
                    steps.push(Step::Index(inner.parse().map_err(|_| unsupported())?));
                }
                i = end + 1;
            }
            _ => return Err(unsupported()),
        }
    }
    Ok(steps)
}

fn select<'a>(doc: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(doc, |v, s| match s {
        Step::Key(k) => v.get(k),
        Step::Index(n) => v.get(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jq_paths() {
        let doc: Value = serde_json::json!({"identity": {"org_id": "123", "a-b": ["x", "y"]}});
        let at = |p: &str| select(&doc, &jq_path(p).unwrap()).cloned();
        assert_eq!(at(".identity.org_id"), Some(serde_json::json!("123")));
        assert_eq!(at(".identity.\"a-b\"[1]"), Some(serde_json::json!("y")));
        assert_eq!(at(".identity[\"a-b\"][0]"), Some(serde_json::json!("x")));
        assert_eq!(at(".nope.x"), None);
        assert_eq!(at("."), Some(doc.clone()));
        for bad in ["identity", ".a | .b", ".a[]", "map(.x)", ".a..b"] {
            assert!(jq_path(bad).is_err(), "{bad}");
        }
    }
}

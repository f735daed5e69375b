//! `set_label/` and `unset_label/` bodies, the same for every labelled resource.

use serde_json::{Map, Value, json};

use crate::ApiError;
use crate::error::FieldErrors;

/// Validates a `{"key", "value"}` (set) or `{"key"}` (unset) body against the current labels
/// (JSON text). Returns the new labels (JSON text) and Pulp's 201 answer.
pub fn apply(
    body: &Map<String, Value>,
    current: &str,
    set: bool,
) -> Result<(String, Value), ApiError> {
    let mut errs = FieldErrors::default();
    let key = match body.get("key") {
        Some(Value::String(k)) => k.clone(),
        Some(_) => {
            errs.add("key", "Not a valid string.");
            String::new()
        }
        None => {
            errs.add("key", "This field is required.");
            String::new()
        }
    };
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    for k in body
        .keys()
        .filter(|k| *k != "key" && !(set && *k == "value"))
    {
        errs.add(k, "Unexpected field");
    }
    if set {
        if !body.contains_key("value") {
            errs.add("value", "This field is required.");
        }
        if let Err(m) = crate::listing::validate_labels(&json!({ key.clone(): value.clone() })) {
            errs.add("key", m);
        }
    }
    errs.into_result()?;
    let mut labels: Map<String, Value> = serde_json::from_str(current).unwrap_or_default();
    let answer = if set {
        labels.insert(key.clone(), value.clone());
        json!({ "key": key, "value": value })
    } else {
        match labels.remove(&key) {
            Some(old) => json!({ "key": key, "value": old }),
            None => {
                return Err(ApiError::field(
                    "key",
                    format!("Label with key '{key}' does not exist."),
                ));
            }
        }
    };
    Ok((Value::Object(labels).to_string(), answer))
}

//! JSON with object keys in order, for output that must not change between builds.

use serde_json::Value;

/// The value with every object's keys in order. Whether serde_json keeps insertion order
/// depends on features that other crates turn on, so hashes and files must not rely on it.
pub fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let entries: std::collections::BTreeMap<_, _> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => items.into_iter().map(sorted).collect(),
        other => other,
    }
}

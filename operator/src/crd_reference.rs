//! Renders the Markdown CRD reference (`docs/crd-reference.md`) from the same
//! CustomResourceDefinitions as `crds/`, so the reference says what `kubectl explain`
//! says: the field descriptions are the schema's.

use std::fmt::Write as _;

use kube::CustomResourceExt;
use serde_json::Value;

use crate::canonical_json::sorted;
use cognito_crds::{AppUser, UserPool};

/// The whole reference document.
pub fn render() -> anyhow::Result<String> {
    let mut out = String::from(
        "# CRD reference\n\n\
         Generated from the operator's types by `cargo run -p cognito-operator -- crdgen` \
         (like `crds/`); the descriptions are the ones `kubectl explain` shows, for example \
         `kubectl explain userpool.spec.passwordPolicy`.\n",
    );
    // Key-sorted, so field order does not depend on serde_json's features.
    for crd in [
        sorted(serde_json::to_value(UserPool::crd())?),
        sorted(serde_json::to_value(AppUser::crd())?),
    ] {
        kind_section(&mut out, &crd);
    }
    Ok(out)
}

fn kind_section(out: &mut String, crd: &Value) {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let version = &spec["versions"][0];
    let _ = write!(
        out,
        "\n## {kind}\n\n`{group}/{version}`, {scope}; short name `{short}`, category `{category}`.\n",
        kind = text(&names["kind"]),
        group = text(&spec["group"]),
        version = text(&version["name"]),
        scope = text(&spec["scope"]).to_lowercase(),
        short = list(&names["shortNames"]).join("`, `"),
        category = list(&names["categories"]).join("`, `"),
    );
    let columns: Vec<String> = version["additionalPrinterColumns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| text(&c["name"]))
        .collect();
    if !columns.is_empty() {
        let _ = writeln!(out, "\n`kubectl get` columns: {}.", columns.join(", "));
    }
    let root = &version["schema"]["openAPIV3Schema"]["properties"];
    for part in ["spec", "status"] {
        let schema = &root[part];
        if schema.is_null() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n### {part}\n\n| field | type | default | description |\n| --- | --- | --- | --- |"
        );
        let mut rules = Vec::new();
        rows(out, &mut rules, part, schema, false);
        if !rules.is_empty() {
            let _ = writeln!(out, "\nValidation rules (CEL, checked at admission):\n");
            for (path, message) in rules {
                let _ = writeln!(out, "- `{path}`: {message}");
            }
        }
    }
}

/// One table row per field below `path`, depth first; collects CEL rule messages.
fn rows(
    out: &mut String,
    rules: &mut Vec<(String, String)>,
    path: &str,
    schema: &Value,
    required: bool,
) {
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        rules.push((path.to_owned(), text(&rule["message"])));
    }
    let is_root = !path.contains('.');
    if !is_root {
        let _ = writeln!(
            out,
            "| `{path}`{required} | {kind} | {default} | {description} |",
            required = if required { " (required)" } else { "" },
            kind = type_of(schema),
            default = schema
                .get("default")
                .map(|d| format!("`{}`", cell(&d.to_string())))
                .unwrap_or_default(),
            description = cell(&text(&schema["description"])),
        );
    }
    let required_fields = list(&schema["required"]);
    for (name, child) in schema["properties"].as_object().into_iter().flatten() {
        rows(
            out,
            rules,
            &format!("{path}.{name}"),
            child,
            required_fields.contains(name),
        );
    }
    if let Some(items) = schema.get("items")
        && items.get("properties").is_some()
    {
        rows(out, rules, &format!("{path}[]"), items, false);
    }
    if let Some(values) = schema.get("additionalProperties")
        && values.get("properties").is_some()
    {
        rows(out, rules, &format!("{path}.<key>"), values, false);
    }
}

/// The type column: the JSON type, what an array or map holds, enums and ranges.
fn type_of(schema: &Value) -> String {
    let mut kind = match text(&schema["type"]).as_str() {
        "array" => format!("[]{}", item_type(&schema["items"])),
        "object" if schema.get("additionalProperties").is_some() => {
            format!("map[string]{}", item_type(&schema["additionalProperties"]))
        }
        "" if schema.get("x-kubernetes-int-or-string").is_some() => "int-or-string".into(),
        other => other.to_owned(),
    };
    let values = list(&schema["enum"]);
    if !values.is_empty() {
        let _ = write!(kind, ": `{}`", values.join("`, `"));
    }
    match (number(&schema["minimum"]), number(&schema["maximum"])) {
        (Some(min), Some(max)) => {
            let _ = write!(kind, ", {min}..{max}");
        }
        (Some(min), None) => {
            let _ = write!(kind, ", >= {min}");
        }
        (None, Some(max)) => {
            let _ = write!(kind, ", <= {max}");
        }
        (None, None) => {}
    }
    if let Some(format) = schema["format"].as_str() {
        let _ = write!(kind, " ({format})");
    }
    kind
}

/// A bound as written by hand: schemars emits `5.0` for an integer field's minimum 5.
fn number(value: &Value) -> Option<String> {
    let n = value.as_f64()?;
    Some(if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    })
}

fn item_type(items: &Value) -> String {
    match text(&items["type"]).as_str() {
        "" => "object".into(),
        other => other.to_owned(),
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

/// Text that fits one Markdown table cell.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;

    #[test]
    fn committed_reference_is_up_to_date() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/crd-reference.md");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == render().expect("reference renders"),
            "docs/crd-reference.md is out of date: run `cargo run -p cognito-operator -- crdgen`"
        );
    }

    #[test]
    fn nested_fields_get_dotted_paths_types_and_defaults() {
        let schema = json!({
            "type": "object",
            "required": ["name"],
            "x-kubernetes-validations": [{"rule": "true", "message": "always fine"}],
            "properties": {
                "name": {"type": "string", "description": "The name.\n  Second | line."},
                "size": {"type": "integer", "minimum": 1, "maximum": 9, "default": 3},
                "mode": {"type": "string", "enum": ["A", "B"]},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object",
                    "properties": {"id": {"type": "string"}}}}
            }
        });
        let (mut out, mut rules) = (String::new(), Vec::new());
        rows(&mut out, &mut rules, "spec", &schema, false);
        assert!(
            out.contains("| `spec.name` (required) | string |  | The name. Second \\| line. |")
        );
        assert!(out.contains("| `spec.size` | integer, 1..9 | `3` |"));
        assert!(out.contains("| `spec.mode` | string: `A`, `B` |"));
        assert!(out.contains("| `spec.tags` | map[string]string |"));
        assert!(out.contains("| `spec.items[].id` | string |"));
        assert_eq!(rules, vec![("spec".to_owned(), "always fine".to_owned())]);
    }
}

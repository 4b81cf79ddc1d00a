//! Renders the CustomResourceDefinitions to the YAML files under `crds/`.

use std::path::Path;

use kube::CustomResourceExt;

use cognito_crds::{AppUser, UserPool};

/// File name and YAML of every CRD the operator serves.
pub fn render() -> anyhow::Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("userpools.yaml", to_yaml(&UserPool::crd())?),
        ("appusers.yaml", to_yaml(&AppUser::crd())?),
    ])
}

fn to_yaml<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    let value = serde_json::to_value(value)?;
    Ok(format!(
        "---\n{}",
        serde_yaml_ng::to_string(&crate::canonical_json::sorted(value))?
    ))
}

/// Writes every CRD into `dir`.
pub fn write(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (file, yaml) in render()? {
        let path = dir.join(file);
        std::fs::write(&path, yaml)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn committed_crds_are_up_to_date() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds");
        for (file, yaml) in render().expect("CRDs render") {
            let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
            assert!(
                committed == yaml,
                "crds/{file} is out of date: run `cargo run -p cognito-operator -- crdgen`"
            );
        }
    }
}

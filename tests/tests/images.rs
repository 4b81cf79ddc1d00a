//! The container images (operator/Dockerfile and webhook-api/Dockerfile, built by
//! tests/env/images.sh): read from their OCI archives, each holds its binary, the
//! libraries it links, CA certificates and the nonroot user, and no shell or package
//! manager; it runs as 65532, carries the OCI labels, stays under the size budget, and a
//! build from an empty BuildKit cache gives the same digest.

use std::{
    collections::BTreeMap,
    io::Read,
    path::{Path, PathBuf},
    process::Command,
};

use cognito_operator_tests::{
    node::{build_images, image_digest},
    repo_root,
};
use serde_json::Value;

/// Uncompressed size budget of each image.
const MAX_IMAGE_BYTES: u64 = 40 * 1000 * 1000;

/// One file of an image's root filesystem.
struct Entry {
    mode: u32,
    contents: Vec<u8>,
    is_symlink: bool,
}

/// An image as its OCI archive holds it: the config and the files of its layers.
struct Image {
    config: Value,
    files: BTreeMap<String, Entry>,
    uncompressed_bytes: u64,
}

/// The blobs of an OCI archive, by path inside it.
fn archive_blobs(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    let file = std::fs::File::open(archive).expect("open the archive");
    let mut blobs = BTreeMap::new();
    let mut tar = tar::Archive::new(file);
    for entry in tar.entries().expect("archive entries") {
        let mut entry = entry.expect("archive entry");
        let path = entry.path().expect("entry path").display().to_string();
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).expect("read entry");
        blobs.insert(path, contents);
    }
    blobs
}

fn blob<'a>(blobs: &'a BTreeMap<String, Vec<u8>>, digest: &str) -> &'a [u8] {
    let path = format!("blobs/{}", digest.replacen(':', "/", 1));
    blobs
        .get(&path)
        .unwrap_or_else(|| panic!("{path} missing from the archive"))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON blob")
}

fn read_image(archive: &Path) -> Image {
    let blobs = archive_blobs(archive);
    let index = json(blobs.get("index.json").expect("index.json"));
    let manifest = json(blob(
        &blobs,
        index["manifests"][0]["digest"]
            .as_str()
            .expect("manifest digest"),
    ));
    let config = json(blob(
        &blobs,
        manifest["config"]["digest"]
            .as_str()
            .expect("config digest"),
    ));
    let mut files = BTreeMap::new();
    let mut uncompressed_bytes = 0;
    for layer in manifest["layers"].as_array().expect("layers") {
        let compressed = blob(&blobs, layer["digest"].as_str().expect("layer digest"));
        let mut tarball = Vec::new();
        flate2::read::GzDecoder::new(compressed)
            .read_to_end(&mut tarball)
            .expect("gunzip a layer");
        uncompressed_bytes += tarball.len() as u64;
        let mut layer = tar::Archive::new(tarball.as_slice());
        for entry in layer.entries().expect("layer entries") {
            let mut entry = entry.expect("layer entry");
            let path = entry.path().expect("path").display().to_string();
            let header = entry.header();
            let mode = header.mode().expect("mode");
            let is_symlink = header.entry_type().is_symlink();
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).expect("read file");
            files.insert(
                path.trim_start_matches("./")
                    .trim_end_matches('/')
                    .to_owned(),
                Entry {
                    mode,
                    contents,
                    is_symlink,
                },
            );
        }
    }
    Image {
        config,
        files,
        uncompressed_bytes,
    }
}

fn chart_app_version() -> String {
    let chart = std::fs::read_to_string(repo_root().join("charts/cognito-operator/Chart.yaml"))
        .expect("read Chart.yaml");
    chart
        .lines()
        .find_map(|line| line.strip_prefix("appVersion:"))
        .expect("appVersion")
        .trim()
        .trim_matches('"')
        .to_owned()
}

fn git_head() -> String {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo_root())
        .output()
        .expect("git rev-parse");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The archives of the default build (the chart's tag), by binary name.
fn default_archives() -> Vec<(&'static str, PathBuf)> {
    let archives = build_images(&[]);
    ["cognito-operator", "webhook-api"]
        .into_iter()
        .map(|name| {
            let archive = archives
                .iter()
                .find(|a| a.ends_with(format!("{name}.tar")))
                .unwrap_or_else(|| panic!("no archive of {name} in {archives:?}"));
            (name, archive.clone())
        })
        .collect()
}

#[test]
fn images_hold_the_binary_its_libraries_and_nothing_else() {
    let version = chart_app_version();
    let head = git_head();
    for (name, archive) in default_archives() {
        let image = read_image(&archive);
        let config = &image.config["config"];
        assert_eq!(config["User"], "65532:65532", "{name}");
        assert_eq!(
            config["Entrypoint"],
            serde_json::json!([format!("/usr/local/bin/{name}")]),
            "{name}"
        );
        let labels = &config["Labels"];
        assert_eq!(labels["org.opencontainers.image.title"], name);
        assert_eq!(labels["org.opencontainers.image.version"], version.as_str());
        let revision = labels["org.opencontainers.image.revision"]
            .as_str()
            .unwrap_or_default();
        assert!(revision.starts_with(&head), "{name}: revision {revision}");
        assert!(
            labels["org.opencontainers.image.source"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{name}: {labels}"
        );

        let binary = &image.files[&format!("usr/local/bin/{name}")];
        assert_eq!(binary.mode & 0o777, 0o755, "{name}");
        let certificates = &image.files["etc/ssl/certs/ca-certificates.crt"];
        assert!(
            String::from_utf8_lossy(&certificates.contents)
                .matches("BEGIN CERTIFICATE")
                .count()
                > 100,
            "{name}: a CA bundle"
        );
        assert!(
            String::from_utf8_lossy(&image.files["etc/passwd"].contents)
                .contains("nonroot:x:65532:65532:"),
            "{name}"
        );
        for library in ["libc.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2"] {
            assert!(
                image
                    .files
                    .contains_key(&format!("lib/x86_64-linux-gnu/{library}")),
                "{name}: {library}"
            );
        }
        assert!(image.files["lib64/ld-linux-x86-64.so.2"].is_symlink);

        // Executables: the binary and the libraries, nothing else (no shell, no package
        // manager, no busybox).
        let executables: Vec<&String> = image
            .files
            .iter()
            .filter(|(_, entry)| !entry.is_symlink && !entry.contents.is_empty())
            .filter(|(_, entry)| entry.mode & 0o111 != 0)
            .map(|(path, _)| path)
            .filter(|path| !path.starts_with("lib/x86_64-linux-gnu/"))
            .collect();
        assert_eq!(
            executables,
            vec![&format!("usr/local/bin/{name}")],
            "{name}"
        );
        for absent in ["bin/sh", "usr/bin/dpkg", "usr/bin/apt", "var/lib/dpkg"] {
            assert!(!image.files.contains_key(absent), "{name}: {absent}");
        }

        eprintln!(
            "{name}: {} bytes uncompressed ({} files)",
            image.uncompressed_bytes,
            image.files.len()
        );
        assert!(
            image.uncompressed_bytes < MAX_IMAGE_BYTES,
            "{name}: {} bytes, over the {MAX_IMAGE_BYTES} budget",
            image.uncompressed_bytes
        );
    }
}

#[test]
fn a_build_from_nothing_gives_the_same_digests() {
    let first: Vec<String> = default_archives()
        .iter()
        .map(|(_, archive)| image_digest(archive))
        .collect();
    let scratch = std::env::temp_dir().join(cognito_operator_tests::unique("images-again"));
    let state = scratch.join("buildkit");
    let out = scratch.join("out");
    // As a release names them: the registry is in the name, not in the image.
    let again = build_images(&[
        ("BUILDKIT_STATE_DIR", state.to_str().expect("UTF-8")),
        ("IMAGES_OUT_DIR", out.to_str().expect("UTF-8")),
        ("IMAGE_REGISTRY", "registry.example/team"),
    ]);
    let second: Vec<String> = again.iter().map(|a| image_digest(a)).collect();
    let names: Vec<String> = again
        .iter()
        .map(|archive| {
            let index = json(&archive_blobs(archive)["index.json"]);
            index["manifests"][0]["annotations"]["io.containerd.image.name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(first, second, "a second build from an empty cache differs");
    let version = chart_app_version();
    assert_eq!(
        names,
        [
            format!("registry.example/team/cognito-operator:{version}"),
            format!("registry.example/team/webhook-api:{version}"),
        ]
    );
}

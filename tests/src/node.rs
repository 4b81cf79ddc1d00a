//! The local node (tests/env/node.sh) and the project's images on it: built from this
//! checkout by tests/env/images.sh, loaded straight into the node's containerd.

use std::{path::PathBuf, process::Command};

use crate::environment::{environment, repo_root, without_test_package_env};

/// Runs `bash tests/env/<script> ARGS...` with `env`; returns its stdout, panics with its
/// stderr unless it succeeds.
fn env_script(script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = without_test_package_env(&mut Command::new("bash"))
        .arg(repo_root().join("tests/env").join(script))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A variable of tests/env/common.sh (which sources versions.env), as the scripts see it.
pub fn env_setting(name: &str) -> String {
    let output = Command::new("bash")
        .args(["-c", &format!(". tests/env/common.sh && echo \"${name}\"")])
        .current_dir(repo_root())
        .output()
        .expect("source tests/env/common.sh");
    let value = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        !value.is_empty(),
        "{name} is not set by tests/env/common.sh"
    );
    value
}

/// The node's address and name (NODE_ADDRESS): where the API server and the AWS emulator
/// listen for pods, which cannot reach the machine's loopback.
pub fn node_address() -> String {
    env_setting("NODE_ADDRESS")
}

/// The AWS emulator's URL as pods see it.
pub fn emulator_endpoint_for_pods() -> String {
    let port = environment()
        .aws_endpoint
        .rsplit(':')
        .next()
        .expect("emulator URL has a port")
        .to_owned();
    format!("http://{}:{port}", node_address())
}

/// `tests/env/images.sh build` with `env` (IMAGE_TAG, IMAGES_OUT_DIR, ...): the archives
/// of both images.
pub fn build_images(env: &[(&str, &str)]) -> Vec<PathBuf> {
    env_script("images.sh", &["build"], env)
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// `tests/env/images.sh digest ARCHIVE`: the image's manifest digest.
pub fn image_digest(archive: &std::path::Path) -> String {
    let archive = archive.to_str().expect("UTF-8 path");
    env_script("images.sh", &["digest", archive], &[])
        .trim()
        .to_owned()
}

/// Builds both images tagged `tag` and loads them into the node's containerd, as a
/// registry pull would have; returns the archives.
pub fn load_images(tag: &str) -> Vec<PathBuf> {
    let out_dir = std::env::temp_dir().join(format!("cognito-images-{tag}"));
    let out_dir = out_dir.to_str().expect("UTF-8 path");
    let archives = build_images(&[("IMAGE_TAG", tag), ("IMAGES_OUT_DIR", out_dir)]);
    let mut args = vec!["load"];
    args.extend(archives.iter().map(|a| a.to_str().expect("UTF-8 path")));
    env_script("node.sh", &args, &[]);
    archives
}

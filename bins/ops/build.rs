//! Bakes the git revision into `engage_ops::cli::GIT_REVISION` (every binary's `--version`):
//! `ENGAGE_GIT_REVISION` when the build is given one (an image built from a tarball), else
//! `git rev-parse --short HEAD`, else `unknown` (no git, or no `.git`). Never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Reruns the script when `path` changes; a missing file is not watched (cargo would rerun
/// the script on every build).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=ENGAGE_GIT_REVISION");
    println!("cargo:rerun-if-changed=build.rs");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let given = std::env::var("ENGAGE_GIT_REVISION")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let rev = given.or_else(|| {
        // Rebuild when HEAD moves: HEAD itself, the branch it names, and packed refs (in a
        // worktree the refs live in the common directory).
        if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
            let git_dir = PathBuf::from(git_dir);
            watch(&git_dir.join("HEAD"));
            let common = git(
                &dir,
                &["rev-parse", "--path-format=absolute", "--git-common-dir"],
            )
            .map(PathBuf::from)
            .unwrap_or_else(|| git_dir.clone());
            if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
                watch(&common.join(branch));
            }
            watch(&common.join("packed-refs"));
        }
        git(&dir, &["rev-parse", "--short", "HEAD"])
    });
    let rev = rev
        .filter(|r| {
            r.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=ENGAGE_GIT_REVISION={rev}");
}

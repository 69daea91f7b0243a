//! Stamps the binary with the git commit it was built from, when built from a checkout
//! (`splitbrain --version`, failure files), and with nothing otherwise.

use std::path::Path;
use std::process::Command;

fn main() {
    let git = Path::new("../.git");
    // Rebuild when the checked-out commit changes (a new commit, a checkout).
    for watched in ["HEAD", "packed-refs", "refs/heads"] {
        let path = git.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let crate_version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let version = if commit.is_empty() { crate_version } else { format!("{crate_version} ({commit})") };
    println!("cargo:rustc-env=SPLITBRAIN_VERSION={version}");
}

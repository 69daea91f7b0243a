//! Output paths, checked before any work: a campaign or a shrink that would fail to write
//! its result at the end fails at the start instead.

use std::path::Path;

/// `path` can be written as a file: its folder exists, it is not a folder, and it can be
/// opened for writing. A file that did not exist is not left behind.
pub fn check_file(path: &Path, what: &str) -> Result<(), String> {
    let shown = path.display();
    if path.is_dir() {
        return Err(format!("{what} {shown} is a directory"));
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot write {what} {shown}: {e}"))?;
    if !existed {
        std::fs::remove_file(path).map_err(|e| format!("cannot write {what} {shown}: {e}"))?;
    }
    Ok(())
}

/// `dir` exists (it is made if not) and a file can be written in it.
pub fn check_dir(dir: &Path, what: &str) -> Result<(), String> {
    let shown = dir.display();
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {what} {shown}: {e}"))?;
    let probe = dir.join(format!(".splitbrain-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("cannot write in {what} {shown}: {e}"))?;
    std::fs::remove_file(&probe).map_err(|e| format!("cannot write in {what} {shown}: {e}"))
}

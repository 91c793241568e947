//! A small filesystem of its own under a test, to fill and free as a
//! regional office's small disk fills and is cleaned.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `tmpfs` the test mounts (as root: CI runs as root) and unmounts when
/// dropped. A test that needs one fails, rather than skips, when it cannot
/// mount it.
pub struct SmallDisk {
    path: PathBuf,
    ballast: PathBuf,
}

impl SmallDisk {
    /// Mounts a `tmpfs` of `megabytes` at `path` (created if needed).
    pub fn mount(path: &Path, megabytes: u32) -> SmallDisk {
        std::fs::create_dir_all(path).expect("create the mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "cannot mount a tmpfs at {} (the fault tests need root, as CI has)",
            path.display()
        );
        SmallDisk {
            path: path.to_owned(),
            ballast: path.join("ballast"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fills what is left of the disk with a ballast file; returns its size.
    pub fn fill(&self) -> u64 {
        let mut file = std::fs::File::create(&self.ballast).expect("create the ballast");
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(err) if err.raw_os_error() == Some(28) => break, // ENOSPC
                Err(err) => panic!("filling the disk: {err}"),
            }
        }
        // What a page cache could still hold is on the disk now.
        let _ = file.sync_all();
        written
    }

    /// Frees the space the ballast took.
    pub fn free(&self) {
        std::fs::remove_file(&self.ballast).expect("remove the ballast");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a process the test started may still hold files there.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

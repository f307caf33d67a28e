//! Output into a pipe that is already closed (`opsconsole info | head -1`, a consumer that went away):
//! the program must stop quietly, not panic with "failed printing to stdout: Broken pipe".

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");

/// The writing end of a pipe whose reading end is already closed.
fn closed_pipe() -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills both descriptors; each is owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe(2)");
    let (reader, writer) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    writer
}

/// Runs opsconsole with `args`, stdout a pipe whose reading end is closed before anything is written.
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let writer = closed_pipe();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(args)
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("running opsconsole");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn info_into_a_closed_pipe_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[clusters.prod]\netcd = { endpoints = [\"http://127.0.0.1:1\"] }\n",
    )
    .unwrap();
    let (code, stderr) = into_closed_pipe(&["--config", config.to_str().unwrap(), "info"]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_and_version_into_a_closed_pipe_are_not_a_panic() {
    for args in [&["--help"][..], &["--version"][..]] {
        let (code, stderr) = into_closed_pipe(args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(code, Some(101), "{args:?}: {stderr}");
    }
}

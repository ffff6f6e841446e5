//! `yui devnet`, the README's first command, as a supervisor or `timeout` runs it: SIGTERM must
//! stop its nodes with it, never leave them running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use yui_tests::yui_bin;

/// The processes whose command line names `dir` (the devnet's nodes run with configs in it).
fn processes_in(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmd).contains(&needle) {
            out.push(pid);
        }
    }
    out
}

/// Kills whatever of the test's own processes are left when it ends, failing or not.
struct Reaper(std::path::PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in processes_in(&self.0) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[test]
fn sigterm_stops_the_devnet_and_its_nodes() {
    let tmp = tempfile::Builder::new()
        .prefix("yui-test-devnet-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("net");
    let t0 = Instant::now();
    let _reaper = Reaper(dir.clone());
    let mut devnet = Command::new(yui_bin().unwrap())
        .args(["devnet", "--validators", "2", "--dir"])
        .arg(&dir)
        .env("YUI_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let devnet_pid = Pid::from_raw(i32::try_from(devnet.id()).unwrap());
    // Read its output until it says the network is up (bounded: the reader thread ends with
    // the process, the wait by time).
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = devnet.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.contains("Press Ctrl-C")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = devnet.kill();
                panic!("the devnet did not come up:\n{}", printed.join("\n"));
            }
        }
    }
    let nodes: Vec<i32> = processes_in(&dir)
        .into_iter()
        .filter(|p| *p != devnet_pid.as_raw())
        .collect();
    assert_eq!(nodes.len(), 2, "two node processes run: {nodes:?}");

    eprintln!("devnet up after {:?}", t0.elapsed());
    kill(devnet_pid, Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = devnet.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = devnet.kill();
            panic!("the devnet did not stop within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("devnet stopped after {:?}", t0.elapsed());
    assert!(status.success(), "devnet exit status {status}");
    let left = processes_in(&dir);
    assert!(left.is_empty(), "nodes outlived the devnet: {left:?}");
}

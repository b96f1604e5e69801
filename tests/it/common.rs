//! Helpers shared by the integration tests.
#![allow(dead_code)]

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

/// Renders a diagnostic as users see it, without colour, at a fixed width, so that
/// snapshots are stable.
pub fn render(diag: &dyn Diagnostic) -> String {
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(90)
        .with_links(false);
    if handler.render_report(&mut out, diag).is_err() {
        out.push_str("<render failed>");
    }
    out
}

/// What a finished command left: its status and both streams.
pub struct Done {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Waits for `child` at most `secs` seconds (killing it and failing past that),
/// reading both streams while it runs.
pub fn finish(mut child: std::process::Child, secs: u64, what: &str) -> Done {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = std::io::Read::read_to_end(o, &mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = std::io::Read::read_to_end(e, &mut s);
        }
        s
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Done {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// Runs `cmd` with its stdout and stderr on one pseudo-terminal (80 × 24, bytes
/// passed as written: no `\n` to `\r\n` translation) for at most `secs` seconds;
/// its exit code and everything it wrote there; `None` where no pseudo-terminal
/// can be opened (a sandbox without `/dev/ptmx`).
#[cfg(target_os = "linux")]
pub fn on_terminal(
    mut cmd: std::process::Command,
    secs: u64,
    what: &str,
) -> Option<(Option<i32>, Vec<u8>)> {
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors, which are owned from here on.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if rc != 0 {
        eprintln!("openpty: {}", std::io::Error::last_os_error());
        return None;
    }
    // SAFETY: both descriptors were just opened and nothing else owns them.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: a termios read from and written back to a descriptor we own.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(slave.as_raw_fd(), &mut t), 0);
        t.c_oflag &= !libc::OPOST;
        assert_eq!(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t), 0);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    let child = cmd.spawn().unwrap();
    // The command holds its copies of the terminal's end until dropped: the
    // reader below sees the end of output only once every copy is closed.
    drop(cmd);
    let mut master = std::fs::File::from(master);
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut chunk = [0u8; 4096];
        // A pseudo-terminal whose other end is closed reads as an error (EIO).
        while let Ok(n @ 1..) = master.read(&mut chunk) {
            all.extend_from_slice(&chunk[..n]);
        }
        all
    });
    let done = finish(child, secs, what);
    Some((done.code, reader.join().unwrap()))
}

/// A process as `/proc/PID/stat` shows it: its parent and its start time (so
/// that a process id the system has since reused is not taken for it).
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub parent: u32,
    pub started: u64,
}

#[cfg(target_os = "linux")]
fn process(pid: u32) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `PID (COMMAND) STATE PPID …`: the command may hold spaces and parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    Some(Process {
        pid,
        parent: fields.get(1)?.parse().ok()?,
        started: fields.get(19)?.parse().ok()?,
    })
}

/// The live processes whose parent is `pid`.
#[cfg(target_os = "linux")]
pub fn children_of(pid: u32) -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(process)
        .filter(|p| p.parent == pid)
        .collect()
}

/// Whether `p` still runs (the same process: same id and start time, not a zombie).
#[cfg(target_os = "linux")]
pub fn still_runs(p: &Process) -> bool {
    process(p.pid).is_some_and(|now| now.started == p.started)
}

/// Sends `signal` (`TERM`, `INT`, `KILL`) to `target` (a process id, or `-PGID`
/// for a process group) with kill(1).
pub fn send_signal(signal: &str, target: &str) {
    let st = std::process::Command::new("kill")
        .args(["-s", signal, "--", target])
        .status()
        .unwrap();
    assert!(st.success(), "kill -s {signal} {target}");
}

/// Waits at most `secs` seconds for `ready`; past that, kills `child` and its
/// children and fails with `what`.
#[cfg(target_os = "linux")]
pub fn wait_for(
    child: &mut std::process::Child,
    secs: u64,
    what: &str,
    mut ready: impl FnMut() -> bool,
) {
    let start = std::time::Instant::now();
    while !ready() {
        if start.elapsed() > std::time::Duration::from_secs(secs) {
            for p in children_of(child.id()) {
                send_signal("KILL", &p.pid.to_string());
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: not after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Of `processes`, those that still run; each is killed (so that a failing
/// test leaves none behind).
#[cfg(target_os = "linux")]
pub fn left_running(processes: &[Process]) -> Vec<Process> {
    let left: Vec<Process> = processes.iter().copied().filter(still_runs).collect();
    for p in &left {
        let _ = std::process::Command::new("kill")
            .args(["-s", "KILL", &p.pid.to_string()])
            .status();
    }
    left
}

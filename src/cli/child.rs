//! The child processes of `nnt sweep` and `nnt test`, and what a signal to the
//! parent does to them (issue 11, item 18).
//!
//! [`Interrupt::on_signals`] installs the process's one handler of SIGINT
//! (Ctrl-C), SIGTERM (what `timeout`, Docker, Kubernetes and Slurm send) and
//! SIGHUP: the first signal sets a flag, and a second one ends the process at
//! once with status 130. `nnt run` stops training on that flag (checkpoint of
//! the last finished epoch, exit 130); `nnt sweep` and `nnt test` start no new
//! child and [`run`] passes SIGTERM on, once, to each child still running, then
//! waits for it: no run is left training, and holding its checkpoint lock,
//! after the command that started it has ended.
//!
//! A parent killed outright (SIGKILL, the OOM killer) cannot pass anything on:
//! each child started by [`run`] learns its parent's process id from
//! [`PARENT_ENV`] and, through [`follow_parent`], asks the kernel for SIGTERM
//! when that parent dies (Linux), so it stops as an interrupted run does.
//!
//! One request often arrives twice: Ctrl-C reaches the whole foreground process
//! group, and Slurm or systemd signal every process of a job, so a child gets
//! the signal from there and again from its parent a few milliseconds later.
//! A second signal within [`ONE_REQUEST`] of the first is therefore taken as
//! the same request; only a later one ends the process at once.

use std::io::Read;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use super::exit::Status;

/// Signals this close to the first one are the same request (see the module's
/// documentation): a parent passes a signal on to its children well within it.
pub const ONE_REQUEST: Duration = Duration::from_secs(1);

/// The environment variable through which [`run`] tells a child its parent's
/// process id (read by [`follow_parent`]).
pub const PARENT_ENV: &str = "NNT_PARENT_PID";

/// How often a running child is looked at for the interrupt flag.
const POLL: Duration = Duration::from_millis(50);

/// The flag a signal sets: `nnt run` stops training on it, and [`run`] passes
/// SIGTERM on to the child it runs.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

/// The flag of the process's handler, once it is installed.
static HANDLED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

impl Interrupt {
    /// The flag set by SIGINT, SIGTERM and SIGHUP, the handler installed on the
    /// first call (every call shares it). A second signal, [`ONE_REQUEST`] or
    /// more after the first, ends the process at once with status 130
    /// ([`Status::Interrupted`]). Where no handler can be installed (another
    /// one owns the signals), the signals keep their default action and the
    /// flag is never set.
    pub fn on_signals() -> Interrupt {
        let flag = HANDLED.get_or_init(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let set = Arc::clone(&flag);
            let mut first: Option<Instant> = None;
            // ctrlc calls this on its own thread, once per signal, in order.
            let _ = ctrlc::set_handler(move || match on_signal(&mut first, Instant::now()) {
                Response::Stop => set.store(true, Ordering::SeqCst),
                Response::Same => {}
                Response::Exit => std::process::exit(i32::from(Status::Interrupted.code())),
            });
            flag
        });
        Interrupt(Arc::clone(flag))
    }

    /// A flag of its own, set only by [`Interrupt::set`]: no signal reaches it.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Whether a signal (or [`Interrupt::set`]) asked the command to stop.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Asks the command to stop, as a signal does.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// The flag itself, for [`crate::train::RunOptions::interrupt`].
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

/// What a signal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Response {
    /// The first: the command stops (the flag is set).
    Stop,
    /// The same request delivered again (within [`ONE_REQUEST`]): nothing more.
    Same,
    /// A second request: the process ends at once.
    Exit,
}

/// The response to a signal at `now`, `first` the time of the first one.
fn on_signal(first: &mut Option<Instant>, now: Instant) -> Response {
    match *first {
        None => {
            *first = Some(now);
            Response::Stop
        }
        Some(at) if now.saturating_duration_since(at) < ONE_REQUEST => Response::Same,
        Some(_) => Response::Exit,
    }
}

/// How a child ended, with what it wrote on its piped streams.
#[derive(Debug)]
pub struct Ended {
    pub status: ExitStatus,
    /// Its stdout, when the command piped it (else empty).
    pub stdout: Vec<u8>,
    /// Its stderr, when the command piped it (else empty).
    pub stderr: Vec<u8>,
    /// Whether the interrupt was set when the child ended.
    pub interrupted: bool,
}

impl Ended {
    /// Whether the child was stopped by the interrupt rather than finished: the
    /// flag was set and the child ended by a signal or with status 130 (`nnt
    /// run` interrupted). A child that finished its work meanwhile (status 0,
    /// a diverged run's 3, …) has a result like any other.
    pub fn stopped(&self) -> bool {
        self.interrupted && matches!(self.status.code(), None | Some(130))
    }
}

/// Starts `cmd` and waits for it to end, reading its piped stdout and stderr
/// meanwhile (as [`Command::output`] does; set them piped for them to be
/// read). When `interrupt` is set while it runs, SIGTERM is sent to the child
/// once (killed where there are no signals) and it is waited for: `nnt run`
/// then writes its checkpoint and exits with 130.
pub fn run(cmd: &mut Command, interrupt: &Interrupt) -> std::io::Result<Ended> {
    let mut child = cmd
        .env(PARENT_ENV, std::process::id().to_string())
        .spawn()?;
    // Each reader says when its stream ends, which is when the child exits:
    // the wait below wakes then, not at its next look at the flag.
    let (ended, streams_ended) = mpsc::channel::<()>();
    let stdout = child.stdout.take().map(|s| reader(s, ended.clone()));
    let stderr = child.stderr.take().map(|s| reader(s, ended.clone()));
    drop(ended);
    let status = match wait(&mut child, interrupt, &streams_ended) {
        Ok(status) => status,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let collect = |r: Option<std::io::Result<std::thread::JoinHandle<Vec<u8>>>>| match r {
        Some(Ok(handle)) => handle.join().unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(Ended {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
        interrupted: interrupt.is_set(),
    })
}

/// Reads `stream` to its end on a thread of its own; a stream that cannot be
/// read on (a thread that cannot start) is given up, never blocks the child.
fn reader(
    mut stream: impl Read + Send + 'static,
    ended: mpsc::Sender<()>,
) -> std::io::Result<std::thread::JoinHandle<Vec<u8>>> {
    std::thread::Builder::new()
        .name("nnt child output".into())
        .spawn(move || {
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            let _ = ended.send(());
            bytes
        })
}

/// Waits for `child`, passing the interrupt on to it once.
fn wait(
    child: &mut Child,
    interrupt: &Interrupt,
    streams_ended: &mpsc::Receiver<()>,
) -> std::io::Result<ExitStatus> {
    let mut passed_on = false;
    // Once every stream has ended the child is exiting: looked at again soon.
    let mut after_streams = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if interrupt.is_set() && !passed_on {
            terminate(child);
            passed_on = true;
        }
        match streams_ended.recv_timeout(POLL) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(after_streams);
                after_streams = (after_streams * 2).min(POLL);
            }
        }
    }
}

/// In a child started by [`run`] (its parent's id in [`PARENT_ENV`]): asks the
/// kernel for SIGTERM when the parent dies, which sets `interrupt` as any
/// SIGTERM does (call [`Interrupt::on_signals`] first). A parent that is
/// already gone (it died before the request was made) sets it at once. The
/// signal comes when the parent's thread that started the child ends: [`run`]
/// waits for the child on that thread, so only the parent's death ends it
/// early. Elsewhere than Linux, nothing is asked.
pub fn follow_parent(interrupt: &Interrupt) {
    let Some(parent) = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return;
    };
    #[cfg(target_os = "linux")]
    {
        if nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM).is_err() {
            return;
        }
        if std::os::unix::process::parent_id() != parent {
            interrupt.set();
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (parent, interrupt);
}

/// Asks a running child to stop: SIGTERM. It has not been waited for
/// (`try_wait` has just found it running, and only this thread waits for it),
/// so its process id is still its own.
#[cfg(unix)]
fn terminate(child: &mut Child) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

/// Where there are no signals, the child is ended.
#[cfg(not(unix))]
fn terminate(child: &mut Child) {
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn a_signal_soon_after_the_first_is_the_same_request() {
        let t0 = Instant::now();
        let mut first = None;
        assert_eq!(on_signal(&mut first, t0), Response::Stop);
        assert_eq!(
            on_signal(&mut first, t0 + Duration::from_millis(5)),
            Response::Same
        );
        assert_eq!(
            on_signal(&mut first, t0 + ONE_REQUEST - Duration::from_millis(1)),
            Response::Same
        );
        assert_eq!(on_signal(&mut first, t0 + ONE_REQUEST), Response::Exit);
    }

    #[cfg(unix)]
    #[test]
    fn output_is_collected_as_output_would() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let ended = run(&mut cmd, &Interrupt::new()).unwrap();
        assert_eq!(ended.status.code(), Some(3));
        assert_eq!(ended.stdout, b"out\n");
        assert_eq!(ended.stderr, b"err\n");
        assert!(!ended.interrupted && !ended.stopped());
    }

    /// A child that takes SIGTERM as a request (as `nnt run` does) is asked
    /// once, finishes, and its last words are kept.
    #[cfg(unix)]
    #[test]
    fn the_interrupt_is_passed_on_once() {
        let interrupt = Interrupt::new();
        let setter = interrupt.clone();
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "n=0; trap 'n=$((n+1))' TERM; echo ready; \
             while [ $n -eq 0 ]; do sleep 0.05; done; sleep 0.3; echo \"stopped after $n\"; exit 130",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let started = Instant::now();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            setter.set();
        });
        let ended = run(&mut cmd, &interrupt).unwrap();
        t.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(20));
        assert_eq!(ended.status.code(), Some(130));
        assert_eq!(ended.stdout, b"ready\nstopped after 1\n");
        assert!(ended.interrupted && ended.stopped());
    }

    /// A child that finishes while the flag is set has a result; one that a
    /// signal or the interrupt (130) ended does not.
    #[cfg(unix)]
    #[test]
    fn only_an_interrupted_end_is_stopped() {
        use std::os::unix::process::ExitStatusExt;
        let ended = |raw: i32, interrupted: bool| Ended {
            status: ExitStatus::from_raw(raw),
            stdout: Vec::new(),
            stderr: Vec::new(),
            interrupted,
        };
        // Wait statuses: exit code in the second byte, a signal in the first.
        assert!(ended(130 << 8, true).stopped());
        assert!(ended(15, true).stopped());
        for code in [0, 1, 3, 4] {
            assert!(!ended(code << 8, true).stopped(), "{code}");
        }
        assert!(!ended(130 << 8, false).stopped());
        assert!(!ended(15, false).stopped());
    }
}

//! A private `redis-server` on a free loopback port that a fault test may pause, stop, kill and
//! restart without touching the shared server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustix::process::{kill_process, Pid, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TestkitError;

const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);

/// A `redis-server` process owned by the test: bound to 127.0.0.1 on a port of its own, with
/// persistence off and its files in a temporary folder. Dropping it kills the process (also
/// while paused).
///
/// ```no_run
/// # async fn t() -> Result<(), perfstack_testkit::TestkitError> {
/// let mut redis = perfstack_testkit::RedisServer::start().await?;
/// let url = redis.url(); // redis://127.0.0.1:<port>
/// redis.pause()?;        // SIGSTOP: connections stay open, nothing is answered
/// redis.resume()?;       // SIGCONT: it answers again, data intact
/// redis.kill();          // SIGKILL: clients see the connection drop
/// redis.restart().await?; // the same port again, empty
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    binary: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Stopped by [`pause`](Self::pause) and not yet resumed.
    paused: bool,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// When `redis-server` is not installed or does not come up.
    pub async fn start() -> Result<Self, TestkitError> {
        let binary = find_binary("redis-server").ok_or(TestkitError::RedisServerMissing)?;
        let dir = tempfile::tempdir().map_err(|source| TestkitError::Io {
            what: "temporary folder",
            path: PathBuf::new(),
            source,
        })?;
        let mut server = Self { port: 0, binary, dir, child: None, paused: false };
        let mut last = None;
        // A free port can be taken by someone else between probing and binding: try again.
        for _ in 0..5 {
            server.port = free_port()?;
            match server.spawn().await {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(TestkitError::RedisServer { port: 0, reason: "no free port".into() }))
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// True while the process is alive (also while paused).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the process with SIGKILL and reaps it: connections drop without a goodbye. A
    /// paused server is killed as well (SIGKILL does not wait for SIGCONT).
    pub fn kill(&mut self) {
        self.paused = false;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Pauses the process with SIGSTOP, a "blip": it stays alive and its connections stay open,
    /// but nothing is answered (new connections are still accepted by the kernel) until
    /// [`resume`](Self::resume). Clients see only their timeouts. Returns once the kernel shows
    /// the process stopped, so a command sent afterwards is not answered. Pausing twice is
    /// harmless.
    ///
    /// # Errors
    ///
    /// When the server is not running or the signal cannot be sent.
    pub fn pause(&mut self) -> Result<(), TestkitError> {
        let pid = self.signal(Signal::STOP, "send SIGSTOP to redis-server")?;
        self.paused = true;
        wait_until_stopped(pid);
        Ok(())
    }

    /// Resumes a paused process with SIGCONT: it answers the commands that queued up meanwhile
    /// and new ones, its data intact. Resuming a server that is not paused is harmless.
    ///
    /// # Errors
    ///
    /// When the server is not running or the signal cannot be sent.
    pub fn resume(&mut self) -> Result<(), TestkitError> {
        self.signal(Signal::CONT, "send SIGCONT to redis-server")?;
        self.paused = false;
        Ok(())
    }

    fn signal(&mut self, signal: Signal, what: &'static str) -> Result<Pid, TestkitError> {
        let running = self.is_running();
        let pid = match self.child.as_ref() {
            Some(child) if running => Pid::from_child(child),
            _ => return Err(TestkitError::RedisServer { port: self.port, reason: "not running".into() }),
        };
        kill_process(pid, signal).map_err(|e| TestkitError::Io {
            what,
            path: self.binary.clone(),
            source: e.into(),
        })?;
        Ok(pid)
    }

    /// Shuts the server down gracefully (`SHUTDOWN NOSAVE`) and waits for the process to exit.
    /// A paused server is resumed first, or it would never answer.
    ///
    /// # Errors
    ///
    /// When it does not exit in time (it is then killed).
    pub async fn stop(&mut self) -> Result<(), TestkitError> {
        if self.paused {
            // If SIGCONT fails the process is gone already: the wait below sees it.
            let _ = self.resume();
            self.paused = false;
        }
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let _ = command(self.port, &["SHUTDOWN", "NOSAVE"]).await;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TestkitError::RedisServer {
                    port: self.port,
                    reason: "did not exit after SHUTDOWN".into(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Starts the server again on the same port (stopping it first if it runs). It comes back
    /// empty: nothing is persisted.
    ///
    /// # Errors
    ///
    /// When it does not come up.
    pub async fn restart(&mut self) -> Result<(), TestkitError> {
        if self.is_running() {
            self.stop().await?;
        }
        self.spawn().await
    }

    async fn spawn(&mut self) -> Result<(), TestkitError> {
        let port = self.port.to_string();
        let log = self.dir.path().join("redis.log");
        let child = Command::new(&self.binary)
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| TestkitError::Io { what: "spawn redis-server", path: self.binary.clone(), source })?;
        self.child = Some(child);
        self.paused = false;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if matches!(command(self.port, &["PING"]).await.as_deref(), Ok("+PONG")) {
                return Ok(());
            }
            if !self.is_running() {
                let reason = std::fs::read_to_string(&log).unwrap_or_default();
                self.child = None;
                return Err(TestkitError::RedisServer {
                    port: self.port,
                    reason: format!("exited at start: {reason}"),
                });
            }
            if tokio::time::Instant::now() >= deadline {
                self.kill();
                return Err(TestkitError::Timeout {
                    what: "private redis-server start",
                    seconds: READY_TIMEOUT.as_secs(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends one command in RESP and returns the first reply line (without CRLF).
async fn command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(req.as_bytes()).await?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).await?;
    let reply = String::from_utf8_lossy(&buf[..n]);
    Ok(reply.lines().next().unwrap_or_default().to_owned())
}

/// SIGSTOP takes effect asynchronously: waits (at most about a second) until `/proc` shows the
/// process stopped. Where there is no `/proc`, returns at once.
fn wait_until_stopped(pid: Pid) {
    let stat = format!("/proc/{}/stat", pid.as_raw_nonzero());
    for _ in 0..1000 {
        let Ok(text) = std::fs::read_to_string(&stat) else { return };
        // "<pid> (<comm>) <state> ...": comm may hold spaces and parentheses.
        let state = text.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
        if matches!(state, Some('T' | 't') | None) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn free_port() -> Result<u16, TestkitError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| TestkitError::Io { what: "find a free port", path: PathBuf::new(), source })
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|p| p.join(name)).find(|p| p.is_file())
}

//! A real `agora-runner devnet` process over a data dir that outlives it: the crash and
//! flood tests start it, kill it with SIGKILL (`Child::kill`), start it again on the same
//! data dir, and read its memory and CPU time from `/proc`. Shared by `crash.rs` and
//! `flood.rs` through `#[path]`.

#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agora_e2e::{binary, free_port};
use agora_sdk::Client;
use serde_json::Value;

/// A spawned runner. Dropping it kills the process.
pub struct RunnerProcess {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub url: String,
    pub client: Client,
    log: PathBuf,
    pub spawned_at: Instant,
}

impl RunnerProcess {
    /// Spawns `agora-runner devnet --data-dir DIR --http 127.0.0.1:PORT ARGS…` on a free
    /// port, appending its output to `log`. Does not wait for it to serve.
    pub fn spawn(data_dir: &Path, log: &Path, args: &[&str]) -> RunnerProcess {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the runner log");
        let err = out.try_clone().expect("clone the log handle");
        let spawned_at = Instant::now();
        let child = Command::new(binary("agora-runner"))
            .arg("devnet")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--http")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn agora-runner");
        RunnerProcess {
            child: Some(child),
            data_dir: data_dir.to_path_buf(),
            client: Client::new(&url),
            url,
            log: log.to_path_buf(),
            spawned_at,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().expect("poll the runner"))
    }

    /// Polls `/health` until it answers `ok`; returns the time since spawn. `Err` with the
    /// log tail if the process exits first or `patience` runs out.
    pub async fn wait_healthy(&mut self, patience: Duration) -> Result<Duration, String> {
        loop {
            if let Some(status) = self.exited() {
                return Err(format!(
                    "runner exited with {status}; log:\n{}",
                    self.log_tail()
                ));
            }
            if let Ok(health) = self.client.get_json("/health").await {
                if health["status"] == "ok" {
                    return Ok(self.spawned_at.elapsed());
                }
            }
            if self.spawned_at.elapsed() > patience {
                return Err(format!(
                    "runner not healthy within {patience:?}; log:\n{}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGKILL, then reap the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGINT (what Ctrl-C sends: a graceful stop, which flushes the store), then waits up
    /// to `patience` for the process to exit. Returns whether it exited.
    pub fn interrupt(&mut self, patience: Duration) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The last 4 KiB of the runner's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4096);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Current resident set size (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after ')'.
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let total = ticks(11) + ticks(12);
        Duration::from_secs_f64(total as f64 / clock_ticks_per_second() as f64)
    }

    /// `GET path` as JSON; panics with the log tail on failure.
    pub async fn get(&self, path: &str) -> Value {
        match self.client.get_json(path).await {
            Ok(value) => value,
            Err(error) => panic!("GET {path}: {error}; log:\n{}", self.log_tail()),
        }
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

/// Runs `agora-runner replay --data-dir DIR`; returns (success, stdout + stderr).
pub fn replay(data_dir: &Path) -> (bool, String) {
    let output = Command::new(binary("agora-runner"))
        .arg("replay")
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run agora-runner replay");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A deterministic random source (xorshift64*), so a failing run can be repeated with
/// its printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A seed from the environment variable `name`, or from the clock.
pub fn seed_from_env(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// A number from the environment variable `name`, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// The `q`-quantile (0..=1) of `samples` (nearest rank).
pub fn quantile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Creates (truncating) a log file.
pub fn new_log(path: &Path) -> PathBuf {
    File::create(path).expect("create log");
    path.to_path_buf()
}

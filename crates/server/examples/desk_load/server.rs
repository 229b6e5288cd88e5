//! The server under test: its store (SQLite, or a fresh PostgreSQL database,
//! optionally behind a delaying proxy), its tenant, the child process, and
//! what /proc says about it.

use std::{
    collections::HashMap,
    fmt::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use sqlx::{Connection, Executor, postgres::PgConnection};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    sync::mpsc,
};

use crate::clients::{LINK, SHOP, TENANT, WRAPUP_CODE, agent_name};

/// Everything to take down at the end, whatever happened.
#[derive(Default)]
pub struct Setup {
    dir: Option<PathBuf>,
    child: Option<Child>,
    /// (admin URL, database name) of the database to drop.
    database: Option<(String, String)>,
}

impl Setup {
    /// A fresh data directory (SQLite's file, the tenant file, the server's
    /// log).
    pub fn data_dir(&mut self) -> Result<PathBuf, String> {
        let dir = std::env::temp_dir().join(format!("sb-desk-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.dir = Some(dir.clone());
        Ok(dir)
    }

    pub async fn teardown(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                // SIGTERM first, so the server closes its database
                // connections; SIGKILL if it has not stopped in 5 s.
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        if let Some((admin, name)) = self.database.take() {
            let dropped = match PgConnection::connect(&admin).await {
                Ok(mut conn) => conn
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = dropped {
                eprintln!("desk_load: could not drop database {name}: {e}");
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Where `tenant apply` and the server find the database (`None`: SQLite in
/// the data directory), and the database's name on PostgreSQL.
pub struct Store {
    pub apply_url: Option<String>,
    pub serve_url: Option<String>,
    pub postgres_name: Option<String>,
}

impl Store {
    pub fn sqlite() -> Self {
        Self {
            apply_url: None,
            serve_url: None,
            postgres_name: None,
        }
    }

    /// A fresh database on the server `admin` names (dropped at teardown);
    /// with a delay, the server reaches it through the delaying proxy.
    pub async fn postgres(admin: &str, delay: Duration, setup: &mut Setup) -> Result<Self, String> {
        let name = format!("sbbench_{}", std::process::id());
        let mut conn = PgConnection::connect(admin)
            .await
            .map_err(|e| format!("PostgreSQL at {admin}: {e}"))?;
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            conn.execute(sqlx::AssertSqlSafe(statement.clone()))
                .await
                .map_err(|e| format!("{statement}: {e}"))?;
        }
        setup.database = Some((admin.to_owned(), name.clone()));
        let mut direct = url::Url::parse(admin).map_err(|e| format!("{admin}: {e}"))?;
        direct.set_path(&format!("/{name}"));
        let mut served = direct.clone();
        if !delay.is_zero() {
            let upstream = format!(
                "{}:{}",
                direct.host_str().unwrap_or("127.0.0.1"),
                direct.port().unwrap_or(5432)
            );
            let upstream: SocketAddr = tokio::net::lookup_host(&upstream)
                .await
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| format!("cannot resolve {upstream}"))?;
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("proxy: {e}"))?;
            let port = listener
                .local_addr()
                .map_err(|e| format!("proxy: {e}"))?
                .port();
            tokio::spawn(delay_proxy(listener, upstream, delay));
            served
                .set_host(Some("127.0.0.1"))
                .map_err(|e| format!("proxy URL: {e}"))?;
            served
                .set_port(Some(port))
                .map_err(|()| "proxy URL: port".to_owned())?;
        }
        Ok(Self {
            apply_url: Some(direct.to_string()),
            serve_url: Some(served.to_string()),
            postgres_name: Some(name),
        })
    }
}

/// A TCP proxy to `upstream` that holds every client-to-server chunk `delay`
/// before writing it (in order, per connection); the other direction passes
/// straight through.
async fn delay_proxy(listener: TcpListener, upstream: SocketAddr, delay: Duration) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let (tx, mut rx) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
            let read_up = async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = client_read.read(&mut buf).await {
                    let due = tokio::time::Instant::now() + delay;
                    if n == 0 || tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            };
            let write_up = async move {
                while let Some((due, chunk)) = rx.recv().await {
                    tokio::time::sleep_until(due).await;
                    if server_write.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
                let _ = server_write.shutdown().await;
            };
            let down = async move {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                let _ = client_write.shutdown().await;
            };
            tokio::join!(read_up, write_up, down);
        });
    }
}

/// PostgreSQL backends serving database `name` (to read their CPU).
pub async fn backends(admin: &str, name: &str) -> Vec<u32> {
    let Ok(mut conn) = PgConnection::connect(admin).await else {
        return Vec::new();
    };
    sqlx::query_scalar::<_, i32>("SELECT pid FROM pg_stat_activity WHERE datname = $1")
        .bind(name)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| p as u32)
        .collect()
}

/// Transactions committed in database `name` so far (each statement the
/// server runs outside a transaction counts as one).
pub async fn commits(admin: &str, name: &str) -> Option<i64> {
    let mut conn = PgConnection::connect(admin).await.ok()?;
    sqlx::query_scalar::<_, i64>("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .ok()
}

/// One queue, one link feeding it, `agents` agents holding its skill.
fn tenant_file(agents: usize, max_chats: u32) -> String {
    let mut file = format!(
        "[tenant]\nslug = \"{TENANT}\"\nname = \"Desk load\"\n\
         allowed_origins = [\"{SHOP}\"]\nwrapup_codes = [\"{WRAPUP_CODE}\"]\n\n\
         [[queues]]\nname = \"desk\"\nskill = \"desk\"\n\n\
         [[links]]\nslug = \"{LINK}\"\nname = \"Desk\"\nqueue = \"desk\"\n"
    );
    for i in 0..agents {
        let _ = write!(
            file,
            "\n[[agents]]\nname = \"{}\"\nskills = [\"desk\"]\nmax_chats = {max_chats}\n",
            agent_name(i)
        );
    }
    file
}

/// `switchboard tenant apply`; returns each new agent's password, which it
/// prints once.
pub async fn apply_tenant(
    server: &Path,
    dir: &Path,
    store: &Store,
    agents: usize,
    max_chats: u32,
) -> Result<HashMap<String, String>, String> {
    let file = dir.join("tenant.toml");
    std::fs::write(&file, tenant_file(agents, max_chats))
        .map_err(|e| format!("writing {}: {e}", file.display()))?;
    let mut command = Command::new(server);
    command.arg("--data-dir").arg(dir);
    if let Some(url) = &store.apply_url {
        command.arg("--database-url").arg(url);
    }
    let output = command
        .args(["tenant", "apply"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", server.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("tenant apply failed: {}", stderr.trim()));
    }
    // "new user NAME: password (shown once): PASSWORD"
    let passwords: HashMap<String, String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("new user ")?;
            let (name, password) = rest.split_once(": password (shown once): ")?;
            Some((name.to_owned(), password.trim().to_owned()))
        })
        .collect();
    if passwords.len() != agents {
        return Err(format!(
            "tenant apply printed {} passwords for {agents} agents",
            passwords.len()
        ));
    }
    Ok(passwords)
}

/// The running server: its pid and its listeners' base URLs.
pub struct Running {
    pub pid: u32,
    pub public: String,
    pub agent: String,
}

/// Starts `switchboard serve` on loopback ports it picks, and reads the
/// listeners from the line it prints when ready.
pub async fn start(
    server: &Path,
    setup: &mut Setup,
    dir: &Path,
    store: &Store,
) -> Result<Running, String> {
    let mut command = Command::new(server);
    command.arg("serve").arg("--data-dir").arg(dir);
    if let Some(url) = &store.serve_url {
        command.arg("--database-url").arg(url);
    }
    // All clients are on this machine's loopback: no per-address cap on
    // open connections (default 256) between them and the server.
    let config = dir.join("server.toml");
    std::fs::write(&config, "[connections]\nmax_per_ip = 1000000\n")
        .map_err(|e| format!("server config: {e}"))?;
    command.arg("--config").arg(&config);
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("server log: {e}"))?;
    command
        .args([
            "--public-addr",
            "127.0.0.1:0",
            "--agent-addr",
            "127.0.0.1:0",
        ])
        .args(["--media-port", "0", "--media-ip", "127.0.0.1"])
        .args(["--sip-addr", "127.0.0.1:0", "--rtp-ports", "0-0"])
        // Every visitor connects from 127.0.0.1 (default: 60 a minute).
        .env("SWITCHBOARD_VISITOR_CONNECTS_PER_MINUTE", "1000000000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", server.display()))?;
    let pid = child.id().ok_or("the server exited at once")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    setup.child = Some(child);
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_mins(1), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("switchboard listening") {
                return Some(line);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let Some(line) = ready else {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "the server did not start; its log ends:\n{}",
            tail.join("\n")
        ));
    };
    // Keep reading stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let listener = |key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(str::to_owned)
            .ok_or_else(|| format!("unexpected start line: {line}"))
    };
    Ok(Running {
        pid,
        public: listener("public=")?,
        agent: listener("agent=")?,
    })
}

// ---------------------------------------------------------------------------
// /proc.

/// utime + stime of a process or thread (`/proc/<path>/stat`), in clock
/// ticks.
pub fn cpu_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{path}/stat")).ok()?;
    // After the command name (which may hold spaces and parentheses): the
    // state is the 3rd field, utime the 14th and stime the 15th.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of each of a process's threads, by thread id, with the
/// thread's name.
pub fn thread_ticks(pid: u32) -> HashMap<String, (String, u64)> {
    let mut threads = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        let path = format!("{pid}/task/{tid}");
        let name = std::fs::read_to_string(format!("/proc/{path}/comm")).unwrap_or_default();
        let ticks = cpu_ticks(&path).unwrap_or(0);
        threads.insert(tid, (name.trim().to_owned(), ticks));
    }
    threads
}

/// Ticks each thread name used between two `thread_ticks` readings (a
/// thread that ended meanwhile is not counted; one that began counts from
/// zero), most first.
pub fn ticks_by_name(
    before: &HashMap<String, (String, u64)>,
    after: &HashMap<String, (String, u64)>,
) -> Vec<(String, u64)> {
    let mut by_name: HashMap<String, u64> = HashMap::new();
    for (tid, (name, ticks)) in after {
        let start = before.get(tid).map_or(0, |(_, t)| *t);
        *by_name.entry(name.clone()).or_default() += ticks.saturating_sub(start);
    }
    let mut v: Vec<(String, u64)> = by_name.into_iter().filter(|(_, t)| *t > 0).collect();
    v.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
    v
}

/// A `/proc/<pid>/status` figure in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

pub async fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .await
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

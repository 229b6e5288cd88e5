//! Test harness: a real server on port-0 listeners with a fresh database per
//! test (SQLite in a temp dir, or a fresh PostgreSQL database when
//! `SWITCHBOARD_TEST_POSTGRES` names a server), plus HTTP and WebSocket clients.
#![allow(dead_code)]

pub mod logs;
pub mod tenant;

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use switchboard::{
    Listeners,
    config::{Config, Secret},
    store::Store,
};
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

pub use tenant::Tenant;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A loopback address whose port is free for both UDP and TCP right now (SIP
/// listens on both): bound and released, so a test can pass it to the server.
pub fn free_sip_addr() -> std::net::SocketAddr {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        let addr = udp.local_addr().expect("udp addr");
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
}

/// How long a wait-for-condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub public: String,
    pub agent: String,
    pub store: Store,
    config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    dir: std::path::PathBuf,
    postgres: Option<(String, String)>,
}

pub struct Builder {
    demo: bool,
    offer_timeout_secs: u64,
    visitor_grace_secs: u64,
    tenant_files: Vec<String>,
    sip_addr: Option<std::net::SocketAddr>,
    connections: switchboard::config::Connections,
    webhooks: switchboard::webhooks::WebhookSettings,
    mailbox: switchboard::directory::mailbox::MailboxSettings,
}

impl Builder {
    /// SIP on this address (tests that send INVITEs need to know it; see
    /// [`free_sip_addr`]). By default a port the system picks.
    pub fn sip_addr(mut self, addr: std::net::SocketAddr) -> Self {
        self.sip_addr = Some(addr);
        self
    }

    /// Connection caps and deadlines other than the defaults.
    pub fn connections(mut self, connections: switchboard::config::Connections) -> Self {
        self.connections = connections;
        self
    }

    /// Ring timeout and voice/video mail limits other than the defaults.
    pub fn mailbox(mut self, mailbox: switchboard::directory::mailbox::MailboxSettings) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// Webhook settings other than the defaults.
    pub fn webhooks(mut self, webhooks: switchboard::webhooks::WebhookSettings) -> Self {
        self.webhooks = webhooks;
        self
    }

    pub fn offer_timeout(mut self, secs: u64) -> Self {
        self.offer_timeout_secs = secs;
        self
    }

    pub fn visitor_grace(mut self, secs: u64) -> Self {
        self.visitor_grace_secs = secs;
        self
    }

    pub fn without_demo(mut self) -> Self {
        self.demo = false;
        self
    }

    /// A tenant file applied before the server starts (so the desk loads it).
    pub fn tenant_file(mut self, text: &str) -> Self {
        self.tenant_files.push(text.to_owned());
        self
    }

    /// A tenant built in code, applied as [`Builder::tenant_file`] applies
    /// its text.
    pub fn tenant(self, tenant: &Tenant) -> Self {
        self.tenant_file(&tenant.to_string())
    }

    pub async fn start(self) -> TestServer {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sb-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let postgres = postgres_database(n).await;
        let tenant_files = self.tenant_files.clone();
        let config = Config {
            public_addr: "127.0.0.1:0".parse().unwrap(),
            agent_addr: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.clone(),
            database_url: postgres.as_ref().map(|(url, _)| Secret::new(url.clone())),
            demo: self.demo,
            offer_timeout_secs: self.offer_timeout_secs,
            visitor_grace_secs: self.visitor_grace_secs,
            visitor_connects_per_minute: 600,
            public_url: None,
            media_port: 0,
            media_ip: Some("127.0.0.1".parse().unwrap()),
            media_connect_timeout_secs: 3,
            sip_addr: self
                .sip_addr
                .unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()),
            rtp_ports: (0, 0),
            sip_no_answer_secs: 5,
            sip_invites_per_source: 20,
            connections: self.connections.clone(),
            logins: switchboard::http::LoginSettings::default(),
            sip_peers: switchboard::config::SipPeers::default(),
            webhooks: self.webhooks.clone(),
            mailbox: self.mailbox.clone(),
        };
        let store = switchboard::open_store(&config).await.expect("store opens");
        for text in &tenant_files {
            let file = switchboard::tenant_file::parse(text).expect("test tenant file parses");
            switchboard::tenant_file::apply(&store, &file, &|name| Some(format!("pw-{name}")))
                .await
                .expect("test tenant file applies");
        }
        TestServer::launch(config, store, dir, postgres).await
    }
}

impl TestServer {
    async fn launch(
        config: Config,
        store: Store,
        dir: std::path::PathBuf,
        postgres: Option<(String, String)>,
    ) -> TestServer {
        let listeners = Listeners::bind(&config).await.expect("bind");
        let (public, agent) = listeners.addrs().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server_store = store.clone();
        let run_config = config.clone();
        let task = tokio::spawn(async move {
            switchboard::run(run_config, server_store, listeners, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        TestServer {
            public: format!("http://{public}"),
            agent: format!("http://{agent}"),
            store,
            config,
            shutdown: Some(tx),
            task: Some(task),
            dir,
            postgres,
        }
    }
}

/// With `SWITCHBOARD_TEST_POSTGRES=postgres://127.0.0.1:5432/test`, each test
/// gets its own new database on that server (dropped afterwards).
async fn postgres_database(n: u32) -> Option<(String, String)> {
    let admin = std::env::var("SWITCHBOARD_TEST_POSTGRES").ok()?;
    let name = format!("sbtest_{}_{n}", std::process::id());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .expect("PostgreSQL named by SWITCHBOARD_TEST_POSTGRES is reachable");
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .await
    .unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some((format!("{base}/{name}"), admin))
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder {
            demo: true,
            offer_timeout_secs: 20,
            visitor_grace_secs: 60,
            tenant_files: Vec::new(),
            sip_addr: None,
            connections: switchboard::config::Connections::default(),
            webhooks: switchboard::webhooks::WebhookSettings::default(),
            mailbox: switchboard::directory::mailbox::MailboxSettings::default(),
        }
    }

    /// Stops the server and starts it again on the same data (new ports), as
    /// after a crash or an upgrade.
    pub async fn restart(mut self) -> TestServer {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let dir = std::mem::take(&mut self.dir);
        let postgres = self.postgres.take();
        let config = self.config.clone();
        let store = switchboard::open_store(&config)
            .await
            .expect("store reopens");
        TestServer::launch(config, store, dir, postgres).await
    }

    /// A server with the demo tenant.
    pub async fn start() -> TestServer {
        Self::builder().start().await
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    /// The server's data directory (recordings live under `recordings/`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// A login attempt from a given loopback address (e.g. 127.0.0.2).
    pub async fn login_from(
        &self,
        local: std::net::IpAddr,
        tenant: &str,
        name: &str,
        password: &str,
    ) -> reqwest::Response {
        reqwest::Client::builder()
            .local_address(local)
            .build()
            .unwrap()
            .post(format!("{}/api/v1/login", self.agent))
            .json(&json!({"tenant": tenant, "name": name, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub fn public_ws(&self) -> String {
        self.public.replace("http://", "ws://")
    }

    pub fn agent_ws(&self) -> String {
        self.agent.replace("http://", "ws://")
    }

    /// A staff client logged in as `name` of `tenant`.
    pub async fn staff(&self, tenant: &str, name: &str, password: &str) -> Staff {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let response = client
            .post(format!("{}/api/v1/login", self.agent))
            .json(&json!({"tenant": tenant, "name": name, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "login as {name}");
        let cookie = response
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        Staff {
            client,
            base: self.agent.clone(),
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            cookie: cookie.split(';').next().unwrap().to_owned(),
        }
    }

    /// A demo staff member (password `demo-NAME`).
    pub async fn demo_staff(&self, name: &str) -> Staff {
        self.staff("demo", name, &format!("demo-{name}")).await
    }

    /// A demo agent logged in, console connected and set available.
    pub async fn ready_agent(&self, name: &str) -> (Staff, Ws) {
        self.ready_staff(self.demo_staff(name).await).await
    }

    /// `staff`'s console connected and set available.
    pub async fn ready_staff(&self, staff: Staff) -> (Staff, Ws) {
        let mut console = self.console(&staff).await;
        console.until_type("hello").await;
        console
            .send(json!({"type": "status", "state": "available"}))
            .await;
        console.until("state", |f| f["state"] == "available").await;
        (staff, console)
    }

    /// A visitor WebSocket for `tenant`/`link` with the public listener's Origin.
    /// The Prometheus text of `/metrics` (staff listener).
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.agent))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn visitor(&self, tenant: &str, link: &str) -> Ws {
        let url = format!(
            "{}/ws/visitor?tenant={tenant}&link={link}",
            self.public_ws()
        );
        Ws::connect(&url, Some(&self.public), None).await
    }

    /// A visitor on the demo tenant's `link` who opened a chat with `text`
    /// (page http://shop.example/, no identity).
    pub async fn open_chat(&self, link: &str, text: &str) -> Ws {
        let mut visitor = self.visitor("demo", link).await;
        visitor
            .send(hello("http://shop.example/", None, None))
            .await;
        visitor.until_type("welcome").await;
        visitor.send(json!({"type": "start", "text": text})).await;
        visitor
    }

    /// An agent console WebSocket for a logged-in staff member.
    pub async fn console(&self, staff: &Staff) -> Ws {
        let url = format!("{}/ws/agent", self.agent_ws());
        Ws::connect(&url, Some(&self.agent), Some(&staff.cookie)).await
    }

    /// `staff`'s console, set available (and told so).
    pub async fn available_console(&self, staff: &Staff) -> Ws {
        let mut console = self.console(staff).await;
        console.until_type("hello").await;
        console
            .send(serde_json::json!({"type": "status", "state": "available"}))
            .await;
        console.until("state", |f| f["state"] == "available").await;
        console
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        if let Some((url, admin)) = self.postgres.take() {
            let name = url.rsplit('/').next().unwrap_or_default().to_owned();
            // Drop runs outside async; a short-lived runtime on its own thread
            // removes the database.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
                        let _ = conn
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A logged-in staff HTTP client.
pub struct Staff {
    pub client: reqwest::Client,
    pub base: String,
    pub csrf: String,
    pub cookie: String,
}

impl Staff {
    /// Polls the newest contact record until `pred` holds (records are written
    /// by the desk just after it answers the socket).
    pub async fn newest_record_when(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, list) = self.get("/api/v1/contacts").await;
            let record = &list["contacts"][0];
            if pred(record) {
                return record.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "record never matched: {record}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls contact `contact`'s record until `pred` holds (it is written
    /// beside the desk, a moment after what the test saw).
    pub async fn record_when(&self, contact: i64, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(&format!("/api/v1/contacts/{contact}")).await;
            if status == 200 && pred(&body) {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "record: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (status, text) = self.get_text(path).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// A JSON WebSocket client.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(url: &str, origin: Option<&str>, cookie: Option<&str>) -> Ws {
        Self::try_connect(url, origin, cookie)
            .await
            .unwrap_or_else(|status| panic!("WebSocket {url} refused with {status}"))
    }

    /// Connects from `local` (another loopback address, e.g. 127.0.0.2, is
    /// another client to the server's per-address limits).
    pub async fn connect_from(local: std::net::IpAddr, url: &str, origin: &str) -> Ws {
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).unwrap());
        let uri = request.uri().clone();
        let addr: std::net::SocketAddr =
            format!("{}:{}", uri.host().unwrap(), uri.port_u16().unwrap())
                .parse()
                .unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((local, 0).into()).unwrap();
        let tcp = socket.connect(addr).await.unwrap();
        let (stream, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp))
            .await
            .unwrap_or_else(|e| panic!("WebSocket {url} from {local}: {e}"));
        Ws { stream }
    }

    /// Connects, or returns the HTTP status the upgrade was refused with.
    pub async fn try_connect(
        url: &str,
        origin: Option<&str>,
        cookie: Option<&str>,
    ) -> Result<Ws, u16> {
        let mut request = url.into_client_request().unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", HeaderValue::from_str(cookie).unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Ws { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("WebSocket {url}: {e}"),
        }
    }

    /// Sends a frame (the version is added).
    pub async fn send(&mut self, mut frame: Value) {
        frame["v"] = json!(1);
        self.send_raw(&frame.to_string()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }

    /// The next JSON frame, failing the test after `WAIT`.
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within the wait")
                .expect("connection open")
                .expect("frame ok");
            if let Message::Text(t) = message {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    /// Skips frames until one of `kind` arrives (and `pred` holds).
    pub async fn until(&mut self, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind && pred(&frame) {
                return frame;
            }
        }
    }

    pub async fn until_type(&mut self, kind: &str) -> Value {
        self.until(kind, |_| true).await
    }

    /// The close frame's code and reason once the server closes the
    /// connection (`None` if it ends without one); fails after `WAIT`.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("the server closes the connection within the wait")
            {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// True when the server closed the connection.
    pub async fn closed(&mut self) -> bool {
        loop {
            match tokio::time::timeout(WAIT, self.stream.next()).await {
                Ok(None | Some(Err(_) | Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
                Err(_) => return false,
            }
        }
    }
}

/// A visitor hello with a page context.
pub fn hello(url: &str, identity: Option<&str>, resume: Option<&str>) -> Value {
    let mut frame = json!({
        "type": "hello",
        "context": {
            "url": url, "title": "Demo shop", "referrer": "",
            "pages": [{"url": "http://shop.example/products", "title": "Products", "at": 1}, {"url": url, "title": "Demo shop", "at": 2}],
            "language": "en-GB", "timezone": "Europe/Berlin"
        }
    });
    if let Some(i) = identity {
        frame["identity"] = json!(i);
    }
    if let Some(r) = resume {
        frame["resume"] = json!(r);
    }
    frame
}

/// Signs the demo customer's identity with the demo tenant's secret.
pub async fn demo_identity(server: &TestServer) -> String {
    let tenant = server.store.tenant_by_slug("demo").await.unwrap().unwrap();
    switchboard::demo::demo_identity(&tenant).unwrap()
}

//! The load: visitor loops and agent consoles, over real WebSockets, and
//! what they record.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::mpsc};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue},
};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const TENANT: &str = "bench";
pub const LINK: &str = "desk";
pub const SHOP: &str = "http://shop.example";
pub const WRAPUP_CODE: &str = "resolved";
/// A step (a frame the tool waits for) that takes longer is counted as an
/// error and its contact given up. Under the server's offer timeout (20 s).
pub const STEP: Duration = Duration::from_secs(10);
/// Messages each way per contact.
const MESSAGES: usize = 3;
/// What a console allows itself, under the server's 10 frames/s (burst 30)
/// per connection (`ws::FrameBudget`, no setting).
const AGENT_BURST: f64 = 25.0;
const AGENT_PER_SECOND: f64 = 9.0;

/// One latency sample, stamped with when it completed (to keep only the
/// measuring window's).
pub type Sample = (Instant, Duration);

#[derive(Default)]
pub struct Tally {
    pub to_offer: Vec<Sample>,
    pub to_connected: Vec<Sample>,
    pub reply: Vec<Sample>,
    pub echo: Vec<Sample>,
    /// Contacts whose `ended` reached the visitor.
    pub completed: Vec<Instant>,
    /// Contacts whose `wrapped` reached the agent.
    pub wrapped: Vec<Instant>,
    pub errors: Vec<(Instant, String)>,
    /// Agent frames held back to stay within the server's frame budget.
    pub held_back: Vec<Sample>,
}

/// What every loop shares: the tally, the listeners and the stop flag.
pub struct Shared {
    tally: Mutex<Tally>,
    /// When each contact's `start` was sent, by its page token, until its
    /// offer reaches a console.
    starts: Mutex<HashMap<String, Instant>>,
    stop: AtomicBool,
    public: String,
    agent: String,
}

impl Shared {
    pub fn new(public: String, agent: String) -> Self {
        Self {
            tally: Mutex::new(Tally::default()),
            starts: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            public,
            agent,
        }
    }

    pub fn agent_url(&self) -> &str {
        &self.agent
    }

    pub fn tally(&self) -> MutexGuard<'_, Tally> {
        // A poisoned lock means a loop panicked mid-push; the figures are
        // still usable.
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, kind: impl Into<String>) {
        self.tally().errors.push((Instant::now(), kind.into()));
    }

    fn starts(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.starts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Visitor loops finish the contact they are in and stop; a console
    /// closing after this is no error.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------------------
// Frames.

fn kind(frame: &Value) -> &str {
    frame["type"].as_str().unwrap_or("")
}

fn field<'a>(frame: &'a Value, name: &str) -> &'a str {
    frame[name].as_str().unwrap_or("?")
}

/// Why waiting for a frame failed.
enum Fail {
    Closed,
    Timeout,
}

/// The next JSON text frame before `deadline`.
async fn next_json(
    stream: &mut (impl StreamExt<Item = Result<Message, tungstenite::Error>> + Unpin),
    deadline: tokio::time::Instant,
) -> Result<Value, Fail> {
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Err(Fail::Timeout),
            Ok(None | Some(Err(_) | Ok(Message::Close(_)))) => return Err(Fail::Closed),
            // Not JSON: the caller sees a frame of no known type.
            Ok(Some(Ok(Message::Text(t)))) => {
                return Ok(serde_json::from_str(&t).unwrap_or(json!({"type": "(not JSON)"})));
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

fn connect_error(who: &str, e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(response) => {
            format!(
                "{who} connect refused (HTTP {})",
                response.status().as_u16()
            )
        }
        tungstenite::Error::Io(io) => format!("{who} connect failed ({:?})", io.kind()),
        _ => format!("{who} connect failed (handshake)"),
    }
}

/// Connects with Nagle's algorithm off on the client's socket, as browsers
/// do.
async fn connect(
    request: tungstenite::handshake::client::Request,
) -> Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error> {
    tokio_tungstenite::connect_async_with_config(request, None, true).await
}

// ---------------------------------------------------------------------------
// Visitors.

fn visitor_hello(url: &str) -> Value {
    json!({
        "v": 1, "type": "hello",
        "context": {
            "url": url, "title": "Shop", "referrer": "",
            "pages": [{"url": url, "title": "Shop", "at": 1}],
            "language": "en-US", "timezone": "Europe/Berlin"
        }
    })
}

/// Waits for a frame of type `want`, passing over those that may come
/// meanwhile (`status`, `queued`, `typing`). Anything else is an error,
/// returned as its kind.
async fn visitor_expect(ws: &mut Ws, want: &str) -> Result<Value, String> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let frame = match next_json(ws, deadline).await {
            Ok(f) => f,
            Err(Fail::Closed) => return Err(format!("visitor closed waiting for {want}")),
            Err(Fail::Timeout) => return Err(format!("visitor timeout waiting for {want}")),
        };
        match kind(&frame) {
            k if k == want => return Ok(frame),
            "status" | "queued" | "typing" => {}
            "error" => {
                let code = field(&frame, "code");
                return Err(format!("visitor error frame {code} (waiting for {want})"));
            }
            "unavailable" => {
                return Err(format!("visitor unavailable {}", field(&frame, "reason")));
            }
            other => return Err(format!("visitor unexpected {other} (waiting for {want})")),
        }
    }
}

async fn visitor_send(ws: &mut Ws, frame: &Value) -> Result<(), String> {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .map_err(|_| "visitor send failed".to_owned())
}

/// One contact, from connecting to `ended`.
async fn visitor_contact(shared: &Shared, token: &str) -> Result<(), String> {
    let url = format!(
        "{}/ws/visitor?tenant={TENANT}&link={LINK}",
        shared.public.replace("http://", "ws://")
    );
    let mut request = url
        .into_client_request()
        .map_err(|_| "visitor bad URL".to_owned())?;
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_static(SHOP));
    let (mut ws, _) = connect(request)
        .await
        .map_err(|e| connect_error("visitor", &e))?;
    // The page URL is unique per contact: the agent finds it in the offer's
    // screen pop.
    visitor_send(&mut ws, &visitor_hello(&format!("{SHOP}/p/{token}"))).await?;
    visitor_expect(&mut ws, "welcome").await?;

    let start = Instant::now();
    shared.starts().insert(token.to_owned(), start);
    visitor_send(&mut ws, &json!({"v": 1, "type": "start"})).await?;
    let connected = visitor_expect(&mut ws, "connected").await;
    shared.starts().remove(token);
    connected?;
    let now = Instant::now();
    shared.tally().to_connected.push((now, now - start));

    for i in 1..=MESSAGES {
        let sent = Instant::now();
        let text = format!("question {i}");
        visitor_send(&mut ws, &json!({"v": 1, "type": "message", "text": text})).await?;
        let (mut echo, mut reply) = (false, false);
        while !(echo && reply) {
            let frame = visitor_expect(&mut ws, "message").await?;
            let now = Instant::now();
            match frame["from"].as_str() {
                Some("visitor") if !echo => {
                    echo = true;
                    shared.tally().echo.push((now, now - sent));
                }
                Some("agent") if echo && !reply => {
                    reply = true;
                    shared.tally().reply.push((now, now - sent));
                }
                from => {
                    let from = from.unwrap_or("?");
                    return Err(format!("visitor unexpected message from {from}"));
                }
            }
        }
    }
    visitor_send(&mut ws, &json!({"v": 1, "type": "end"})).await?;
    visitor_expect(&mut ws, "ended").await?;
    shared.tally().completed.push(Instant::now());
    // The server closes the TCP connection after the close handshake.
    let _ = ws.close(None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while next_json(&mut ws, deadline).await.is_ok() {}
    Ok(())
}

/// Contacts one after another, each on a new connection, until stopped.
pub async fn visitor_loop(shared: Arc<Shared>, id: usize) {
    let mut seq = 0u64;
    while !shared.stopping() {
        seq += 1;
        if let Err(kind) = visitor_contact(&shared, &format!("{id}-{seq}")).await {
            shared.error(kind);
            // Do not spin on a refusing server.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

// ---------------------------------------------------------------------------
// Agents.

pub fn agent_name(i: usize) -> String {
    format!("a{i:05}")
}

/// The loopback address agent `i` logs in from: the server allows 10 logins
/// per client address per minute, with no setting.
fn agent_address(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        1 + (i / 250) as u8,
        1 + (i % 250) as u8,
    ))
}

/// Logs agent `i` in and connects its console, available.
pub async fn agent_console(shared: &Shared, i: usize, password: &str) -> Result<Ws, String> {
    let name = agent_name(i);
    let cookie = login(shared, &name, password, agent_address(i)).await?;
    console(shared, &name, &cookie).await
}

/// The session cookie (`name=value`) of a login from `from`.
async fn login(
    shared: &Shared,
    name: &str,
    password: &str,
    from: IpAddr,
) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let response = client
        .post(format!("{}/api/v1/login", shared.agent))
        .json(&json!({"tenant": TENANT, "name": name, "password": password}))
        .send()
        .await
        .map_err(|e| format!("login {name} from {from}: {e}"))?;
    let status = response.status();
    if status != 200 {
        return Err(format!("login {name} from {from}: HTTP {status}"));
    }
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| format!("login {name}: no session cookie"))?;
    Ok(cookie.to_owned())
}

/// The console's WebSocket (session cookie, the listener's own Origin),
/// greeted and set available.
async fn console(shared: &Shared, name: &str, cookie: &str) -> Result<Ws, String> {
    let url = format!("{}/ws/agent", shared.agent.replace("http://", "ws://"));
    let mut request = url
        .into_client_request()
        .map_err(|_| "agent bad URL".to_owned())?;
    let headers = request.headers_mut();
    let header = |v: &str| HeaderValue::from_str(v).map_err(|_| format!("header {v}"));
    headers.insert("origin", header(&shared.agent)?);
    headers.insert("cookie", header(cookie)?);
    let (mut ws, _) = connect(request)
        .await
        .map_err(|e| connect_error(&format!("agent {name}"), &e))?;
    let deadline = tokio::time::Instant::now() + STEP;
    let mut greeted = false;
    loop {
        let frame = next_json(&mut ws, deadline)
            .await
            .map_err(|_| format!("agent {name}: no hello or state"))?;
        match kind(&frame) {
            "hello" => {
                greeted = true;
                let available = json!({"v": 1, "type": "status", "state": "available"});
                ws.send(Message::Text(available.to_string().into()))
                    .await
                    .map_err(|_| format!("agent {name}: send failed"))?;
            }
            "state" if greeted && frame["state"] == "available" => return Ok(ws),
            "error" => return Err(format!("agent {name}: error frame {frame}")),
            _ => {}
        }
    }
}

/// Writes a console's frames in order, holding back any that would go over
/// what the server accepts from one connection.
async fn agent_writer(
    shared: Arc<Shared>,
    mut sink: SplitSink<Ws, Message>,
    mut rx: mpsc::UnboundedReceiver<String>,
) {
    let mut tokens = AGENT_BURST;
    let mut at = Instant::now();
    while let Some(frame) = rx.recv().await {
        let mut now = Instant::now();
        tokens = (tokens + (now - at).as_secs_f64() * AGENT_PER_SECOND).min(AGENT_BURST);
        at = now;
        if tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - tokens) / AGENT_PER_SECOND);
            tokio::time::sleep(wait).await;
            now = Instant::now();
            shared.tally().held_back.push((now, wait));
            tokens = (tokens + (now - at).as_secs_f64() * AGENT_PER_SECOND).min(AGENT_BURST);
            at = now;
        }
        tokens -= 1.0;
        if sink.send(Message::Text(frame.into())).await.is_err() {
            return;
        }
    }
}

/// Takes every offer, answers every visitor message, wraps up every ended
/// contact, and goes available again if the server made it not ready.
pub async fn agent_loop(shared: Arc<Shared>, ws: Ws) {
    let (sink, mut stream) = ws.split();
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(agent_writer(shared.clone(), sink, rx));
    loop {
        let deadline = tokio::time::Instant::now() + Duration::from_hours(1);
        let frame = match next_json(&mut stream, deadline).await {
            Ok(f) => f,
            Err(Fail::Closed) => {
                if !shared.stopping() {
                    shared.error("agent connection closed");
                }
                return;
            }
            Err(Fail::Timeout) => continue,
        };
        let contact = frame["contact"].clone();
        let answer = match kind(&frame) {
            "offer" => {
                let token = frame["screenpop"]["page"]["url"]
                    .as_str()
                    .and_then(|u| u.strip_prefix(SHOP))
                    .and_then(|p| p.strip_prefix("/p/"));
                if let Some(start) = token.and_then(|t| shared.starts().remove(t)) {
                    let now = Instant::now();
                    shared.tally().to_offer.push((now, now - start));
                }
                Some(json!({"v": 1, "type": "accept", "contact": contact}))
            }
            "message" if frame["from"] == "visitor" => {
                Some(json!({"v": 1, "type": "message", "contact": contact, "text": "an answer"}))
            }
            "ended" => {
                Some(json!({"v": 1, "type": "wrapup", "contact": contact, "code": WRAPUP_CODE}))
            }
            "wrapped" => {
                shared.tally().wrapped.push(Instant::now());
                None
            }
            "state" if frame["state"] == "not_ready" => {
                shared.error(format!(
                    "agent made not ready ({})",
                    field(&frame, "reason")
                ));
                Some(json!({"v": 1, "type": "status", "state": "available"}))
            }
            "offer_cancelled" => {
                shared.error(format!(
                    "agent offer cancelled ({})",
                    field(&frame, "reason")
                ));
                None
            }
            "error" => {
                shared.error(format!("agent error frame {}", field(&frame, "code")));
                None
            }
            "assigned" | "message" | "state" | "typing" | "screenpop" | "pong" | "hello" => None,
            other => {
                shared.error(format!("agent unexpected {other}"));
                None
            }
        };
        if let Some(answer) = answer
            && tx.send(answer.to_string()).is_err()
        {
            shared.error("agent writer stopped");
            return;
        }
    }
}

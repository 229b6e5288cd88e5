//! Tenant files for `tenant apply`, built in code rather than pasted as TOML:
//! a test names only the queues, links and agents it is about, and a test
//! that needs a variant of another's tenant changes the one detail it needs.
//!
//! ```ignore
//! let file = Tenant::new("acme")
//!     .queue("help", |q| q.strategy("most-skilled"))
//!     .link("help", "help")
//!     .agent("kim", &["help"])
//!     .agent_with("lee", |a| a.skill_level("help", 9))
//!     .supervisor("boss");
//! let server = TestServer::builder().tenant(&file).start().await;
//! ```
//!
//! Naming a center, queue, link, agent, customer or trunk a second time
//! changes that one instead of adding another, so a shared tenant can be
//! altered (`.phone(|p| p.routing_point_hold_secs(1))`). The text is written
//! in the order of `crates/server/src/demo.toml`; see there and
//! `crates/server/src/tenant_file.rs` for what each key means. Values are
//! written by the `toml` crate, so quoting is never the test's problem.

use std::fmt;

use toml::Value;

/// One TOML table's keys in the order they were first set. Setting a key
/// again replaces its value where it stands.
#[derive(Clone, Debug, Default)]
struct Table(Vec<(&'static str, Value)>);

impl Table {
    fn named(key: &'static str, name: &str) -> Table {
        let mut table = Table::default();
        table.set(key, name);
        table
    }

    fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    /// The inline table under `key` (created empty), for maps such as
    /// skill levels and push codes.
    fn map(&mut self, key: &'static str) -> &mut toml::Table {
        if !matches!(self.get(key), Some(Value::Table(_))) {
            self.set(key, toml::Table::new());
        }
        self.get_mut(key)
            .and_then(Value::as_table_mut)
            .expect("just set to a table")
    }

    /// The inline array under `key` (created empty), for lists built one
    /// entry at a time, such as overflow rules.
    fn list(&mut self, key: &'static str) -> &mut Vec<Value> {
        if !matches!(self.get(key), Some(Value::Array(_))) {
            self.set(key, Vec::<Value>::new());
        }
        self.get_mut(key)
            .and_then(Value::as_array_mut)
            .expect("just set to an array")
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn is_named(&self, key: &str, name: &str) -> bool {
        self.get(key).and_then(Value::as_str) == Some(name)
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, header: &str) -> fmt::Result {
        writeln!(f, "\n{header}")?;
        for (key, value) in &self.0 {
            writeln!(f, "{key} = {value}")?;
        }
        Ok(())
    }
}

/// A TOML array of strings.
fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

/// The entry of `list` whose `key` is `name`, added at the end when there is
/// none: naming an entry again changes it.
fn entry<'a>(list: &'a mut Vec<Table>, key: &'static str, name: &str) -> &'a mut Table {
    if let Some(at) = list.iter().position(|t| t.is_named(key, name)) {
        &mut list[at]
    } else {
        list.push(Table::named(key, name));
        list.last_mut().expect("just pushed")
    }
}

/// A tenant file: the `[tenant]` table and the sections below it.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// The `[tenant]` table.
    settings: Table,
    centers: Vec<Table>,
    classes: Vec<Table>,
    media_rules: Vec<Table>,
    queues: Vec<Table>,
    calls: Option<Table>,
    context: Option<Table>,
    links: Vec<Table>,
    agents: Vec<Table>,
    customers: Vec<Table>,
    phone: Option<Phone>,
}

impl Tenant {
    /// A tenant with only its slug (the name visitors' widgets and staff
    /// logins give).
    pub fn new(slug: &str) -> Tenant {
        Tenant {
            settings: Table::named("slug", slug),
            centers: Vec::new(),
            classes: Vec::new(),
            media_rules: Vec::new(),
            queues: Vec::new(),
            calls: None,
            context: None,
            links: Vec::new(),
            agents: Vec::new(),
            customers: Vec::new(),
            phone: None,
        }
    }

    /// The smallest tenant that serves chats: queue "help" (skill "help"),
    /// its link "help" and agent kim, who has the skill.
    pub fn help_desk(slug: &str) -> Tenant {
        Tenant::new(slug)
            .queue("help", |q| q)
            .link("help", "help")
            .agent("kim", &["help"])
    }

    /// The tenant's display name.
    pub fn name(mut self, name: &str) -> Tenant {
        self.settings.set("name", name);
        self
    }

    /// Merchant sites whose pages may open the widget.
    pub fn allowed_origins(mut self, origins: &[&str]) -> Tenant {
        self.settings.set("allowed_origins", strings(origins));
        self
    }

    /// The codes an agent may close a contact with.
    pub fn wrapup_codes(mut self, codes: &[&str]) -> Tenant {
        self.settings.set("wrapup_codes", strings(codes));
        self
    }

    /// A call center (without any, a tenant has one, always open, in UTC).
    pub fn center(mut self, name: &str, change: impl FnOnce(Center) -> Center) -> Tenant {
        let center = entry(&mut self.centers, "name", name);
        *center = change(Center(std::mem::take(center))).0;
        self
    }

    /// A class of service, from a verified identity's `entitlements`;
    /// `priority_boost` points count as minutes of waiting.
    pub fn class(mut self, name: &str, priority_boost: i64) -> Tenant {
        let mut class = Table::named("name", name);
        class.set("priority_boost", priority_boost);
        self.classes.push(class);
        self
    }

    /// `media` ("chat", "voice", "video", "callback") only for these classes
    /// of service; other visitors are told why.
    pub fn media_rule(mut self, media: &str, classes: &[&str]) -> Tenant {
        let mut rule = Table::named("media", media);
        rule.set("classes", strings(classes));
        self.media_rules.push(rule);
        self
    }

    /// A queue; its skill is the queue's own name unless `change` sets
    /// another (the tests name queues after their skills).
    pub fn queue(mut self, name: &str, change: impl FnOnce(Queue) -> Queue) -> Tenant {
        let queue = entry(&mut self.queues, "name", name);
        if queue.get("skill").is_none() {
            queue.set("skill", name);
        }
        *queue = change(Queue(std::mem::take(queue))).0;
        self
    }

    /// Tenant-wide call settings (`[calls]`).
    pub fn calls(mut self, change: impl FnOnce(Calls) -> Calls) -> Tenant {
        self.calls = Some(change(Calls(self.calls.unwrap_or_default())).0);
        self
    }

    /// The cookies and form fields (by name) the widget shares from the
    /// visitor's page.
    pub fn context(mut self, cookies: &[&str], fields: &[&str]) -> Tenant {
        let mut context = Table::default();
        context.set("cookies", strings(cookies));
        context.set("fields", strings(fields));
        self.context = Some(context);
        self
    }

    /// A chat link (the widget's `data-link`) into `queue`, named after its
    /// slug ("help" is "Help").
    pub fn link(self, slug: &str, queue: &str) -> Tenant {
        self.link_with(slug, queue, |l| l)
    }

    /// A link with more to it: another name, calls, recording, dial-in.
    pub fn link_with(
        mut self,
        slug: &str,
        queue: &str,
        change: impl FnOnce(Link) -> Link,
    ) -> Tenant {
        let link = entry(&mut self.links, "slug", slug);
        if link.get("name").is_none() {
            let mut name = slug.to_owned();
            if let Some(first) = name.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            link.set("name", name);
        }
        link.set("queue", queue);
        *link = change(Link(std::mem::take(link))).0;
        self
    }

    /// An agent with these skills at the default level (created with the
    /// password the test's apply gives, `pw-NAME` in `TestServer`).
    pub fn agent(self, name: &str, skills: &[&str]) -> Tenant {
        self.agent_with(name, |a| a.skills(skills))
    }

    /// A staff member set up by `change`: skill levels, a role.
    pub fn agent_with(mut self, name: &str, change: impl FnOnce(Agent) -> Agent) -> Tenant {
        let agent = entry(&mut self.agents, "name", name);
        *agent = change(Agent(std::mem::take(agent))).0;
        self
    }

    /// A supervisor: sees every record and the live view, takes no contacts.
    pub fn supervisor(self, name: &str) -> Tenant {
        self.agent_with(name, |a| a.role("supervisor"))
    }

    /// A CRM customer, found by the `sub` of a signed identity or by phone.
    pub fn customer(
        mut self,
        external_id: &str,
        change: impl FnOnce(Customer) -> Customer,
    ) -> Tenant {
        let customer = entry(&mut self.customers, "external_id", external_id);
        *customer = change(Customer(std::mem::take(customer))).0;
        self
    }

    /// The telephone settings (`[phone]`, its trunks and numbers).
    pub fn phone(mut self, change: impl FnOnce(Phone) -> Phone) -> Tenant {
        self.phone = Some(change(self.phone.unwrap_or_default()));
        self
    }
}

/// The file's text, sections in the order of `demo.toml`.
impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.write(f, "[tenant]")?;
        for (list, header) in [
            (&self.centers, "[[centers]]"),
            (&self.classes, "[[classes]]"),
            (&self.media_rules, "[[media_rules]]"),
            (&self.queues, "[[queues]]"),
        ] {
            for table in list {
                table.write(f, header)?;
            }
        }
        if let Some(calls) = &self.calls {
            calls.write(f, "[calls]")?;
        }
        if let Some(context) = &self.context {
            context.write(f, "[context]")?;
        }
        for (list, header) in [
            (&self.links, "[[links]]"),
            (&self.agents, "[[agents]]"),
            (&self.customers, "[[customers]]"),
        ] {
            for table in list {
                table.write(f, header)?;
            }
        }
        if let Some(phone) = &self.phone {
            phone.table.write(f, "[phone]")?;
            for trunk in &phone.trunks {
                trunk.write(f, "[[phone.trunks]]")?;
            }
            for number in &phone.numbers {
                number.write(f, "[[phone.numbers]]")?;
            }
        }
        Ok(())
    }
}

/// A `[[centers]]` entry.
pub struct Center(Table);

impl Center {
    /// The IANA zone its hours and holidays are in.
    pub fn time_zone(mut self, zone: &str) -> Center {
        self.0.set("time_zone", zone);
        self
    }

    /// Opening hours by day ("weekdays", "sat", ...), local time; absent:
    /// always open.
    pub fn hours(mut self, days: &[(&str, &str)]) -> Center {
        let hours = self.0.map("hours");
        for (day, span) in days {
            hours.insert((*day).to_owned(), Value::from(*span));
        }
        self
    }

    /// A local date ("YYYY-MM-DD") the center is closed all day.
    pub fn holiday(mut self, date: &str) -> Center {
        self.0.list("holidays").push(Value::from(date));
        self
    }

    /// The center's own number (E.164): browser calls to a link routed to
    /// phones ring here.
    pub fn phone(mut self, number: &str) -> Center {
        self.0.set("phone", number);
        self
    }

    /// The `[[phone.trunks]]` entry its calls go out through.
    pub fn trunk(mut self, trunk: &str) -> Center {
        self.0.set("trunk", trunk);
        self
    }
}

/// A `[[queues]]` entry.
pub struct Queue(Table);

impl Queue {
    /// The skill an agent needs for the queue, at any level.
    pub fn skill(mut self, skill: &str) -> Queue {
        self.0.set("skill", skill);
        self
    }

    /// How a free agent is chosen: "longest-idle" (the default),
    /// "most-skilled", "least-occupied", "round-robin".
    pub fn strategy(mut self, strategy: &str) -> Queue {
        self.0.set("strategy", strategy);
        self
    }

    /// How long an offer waits for the agent (instead of the server's).
    pub fn offer_timeout_secs(mut self, secs: i64) -> Queue {
        self.0.set("offer_timeout_secs", secs);
        self
    }

    /// Wallboard alert limits (`[queues.wallboard]`), e.g. `&[("red_waiting", 2)]`.
    pub fn wallboard(mut self, limits: &[(&str, i64)]) -> Queue {
        let table = self.0.map("wallboard");
        for (key, value) in limits {
            table.insert((*key).into(), Value::from(*value));
        }
        self
    }

    /// After `after_secs` of waiting, agents of `queue` may take the contact.
    pub fn overflow_to_queue(mut self, after_secs: i64, queue: &str) -> Queue {
        let mut rule = toml::Table::new();
        rule.insert("after_secs".into(), Value::from(after_secs));
        rule.insert("add_queue".into(), Value::from(queue));
        self.0.list("overflow").push(Value::Table(rule));
        self
    }
}

/// The `[calls]` table.
pub struct Calls(Table);

impl Calls {
    /// Whether agents may ask a visitor's browser to change its audio.
    pub fn media_control(mut self, allowed: bool) -> Calls {
        self.0.set("media_control", allowed);
        self
    }

    /// Live calls at once for the tenant; more are refused politely.
    pub fn max_concurrent(mut self, calls: i64) -> Calls {
        self.0.set("max_concurrent", calls);
        self
    }

    /// Calls one visitor may place per hour.
    pub fn attempts_per_hour(mut self, calls: i64) -> Calls {
        self.0.set("attempts_per_hour", calls);
        self
    }

    /// How far ahead a callback may be booked, in days.
    pub fn callback_horizon_days(mut self, days: i64) -> Calls {
        self.0.set("callback_horizon_days", days);
        self
    }

    /// The E.164 prefixes callbacks may go to.
    pub fn callback_destinations(mut self, prefixes: &[&str]) -> Calls {
        self.0.set("callback_destinations", strings(prefixes));
        self
    }
}

/// A `[[links]]` entry.
pub struct Link(Table);

impl Link {
    /// The name shown for the link, instead of its capitalised slug.
    pub fn name(mut self, name: &str) -> Link {
        self.0.set("name", name);
        self
    }

    /// Media the widget offers besides chat: "voice", "video".
    pub fn calls(mut self, media: &[&str]) -> Link {
        self.0.set("calls", strings(media));
        self
    }

    /// Calls go to the queue's centers' phones over a trunk, not to agents.
    pub fn route_calls_to_phone(mut self) -> Link {
        self.0.set("route_calls_to", "phone");
        self
    }

    /// The widget may lend a routing point's number to call from the
    /// visitor's own phone.
    pub fn dial_in(mut self) -> Link {
        self.0.set("dial_in", true);
        self
    }

    /// One of the link's callback dialling settings (`[links.callback]`:
    /// dial, max_attempts, retry_delay_secs, ring_timeout_secs...).
    pub fn callback(mut self, key: &str, value: impl Into<Value>) -> Link {
        self.0.map("callback").insert(key.to_owned(), value.into());
        self
    }

    /// Both parties of the link's calls are recorded (the visitor is told).
    pub fn record_calls(mut self) -> Link {
        self.0.set("record_calls", true);
        self
    }
}

/// An `[[agents]]` entry (any staff member).
pub struct Agent(Table);

impl Agent {
    /// Skills at the default level, as a list of names.
    pub fn skills(mut self, skills: &[&str]) -> Agent {
        self.0.set("skills", strings(skills));
        self
    }

    /// A skill at a level 1-10 (the skills are then a table of levels).
    pub fn skill_level(mut self, skill: &str, level: i64) -> Agent {
        self.0
            .map("skills")
            .insert(skill.to_owned(), Value::from(level));
        self
    }

    /// "agent" (the default), "supervisor" or "admin".
    pub fn role(mut self, role: &str) -> Agent {
        self.0.set("role", role);
        self
    }
}

/// A `[[customers]]` entry.
pub struct Customer(Table);

impl Customer {
    pub fn name(mut self, name: &str) -> Customer {
        self.0.set("name", name);
        self
    }

    /// The number a caller is recognised by (E.164).
    pub fn phone(mut self, number: &str) -> Customer {
        self.0.set("phone", number);
        self
    }
}

/// The `[phone]` table with its `[[phone.trunks]]` and `[[phone.numbers]]`.
#[derive(Clone, Debug, Default)]
pub struct Phone {
    table: Table,
    trunks: Vec<Table>,
    numbers: Vec<Table>,
}

impl Phone {
    /// Number prefixes that may be dialled; nothing else ever is.
    pub fn allowed_destinations(mut self, prefixes: &[&str]) -> Phone {
        self.table.set("allowed_destinations", strings(prefixes));
        self
    }

    /// The pool of caller ids, one per live outbound call, which the
    /// center's CRM looks up.
    pub fn caller_ids(mut self, numbers: &[&str]) -> Phone {
        self.table.set("caller_ids", strings(numbers));
        self
    }

    /// A DTMF code the center's agent keys to open `url` in the visitor's
    /// widget.
    pub fn push_code(mut self, code: &str, url: &str) -> Phone {
        self.table
            .map("push_codes")
            .insert(code.to_owned(), Value::from(url));
        self
    }

    /// Numbers lent to one visitor at a time to call from their own phone.
    pub fn routing_points(mut self, numbers: &[&str]) -> Phone {
        self.table.set("routing_points", strings(numbers));
        self
    }

    /// How long a lent number waits for the visitor's call.
    pub fn routing_point_hold_secs(mut self, secs: i64) -> Phone {
        self.table.set("routing_point_hold_secs", secs);
        self
    }

    /// A caller from another caller id may key a PIN of `digits` digits.
    pub fn routing_point_pin(mut self, digits: i64) -> Phone {
        self.table.set("routing_point_pin", true);
        self.table.set("routing_point_pin_digits", digits);
        self
    }

    /// A SIP trunk to a carrier.
    pub fn trunk(mut self, name: &str, change: impl FnOnce(Trunk) -> Trunk) -> Phone {
        let trunk = entry(&mut self.trunks, "name", name);
        *trunk = change(Trunk(std::mem::take(trunk))).0;
        self
    }

    /// A DID: callers dialling `number` reach `link`'s queue.
    pub fn number(mut self, number: &str, link: &str) -> Phone {
        let mut entry = Table::named("number", number);
        entry.set("link", link);
        self.numbers.push(entry);
        self
    }
}

/// A `[[phone.trunks]]` entry.
pub struct Trunk(Table);

impl Trunk {
    pub fn host(mut self, host: &str) -> Trunk {
        self.0.set("host", host);
        self
    }

    pub fn port(mut self, port: u16) -> Trunk {
        self.0.set("port", i64::from(port));
        self
    }

    /// The only addresses whose INVITEs are taken; others get 403.
    pub fn allowed_sources(mut self, addresses: &[&str]) -> Trunk {
        self.0.set("allowed_sources", strings(addresses));
        self
    }

    /// The called numbers the trunk carries (to tell it apart from another
    /// tenant's trunk on the same address).
    pub fn numbers(mut self, numbers: &[&str]) -> Trunk {
        self.0.set("numbers", strings(numbers));
        self
    }

    /// Seconds between OPTIONS keepalives (and so the trunk's up gauge).
    pub fn options_interval_secs(mut self, secs: i64) -> Trunk {
        self.0.set("options_interval_secs", secs);
        self
    }

    /// The trunk's own number, presented when every pooled caller id is busy.
    pub fn caller_id(mut self, number: &str) -> Trunk {
        self.0.set("caller_id", number);
        self
    }
}

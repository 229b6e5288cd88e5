//! The `switchboard` command: `serve`, tenant and user administration.

use std::{
    io::{BufRead, IsTerminal, Write},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use switchboard::{
    Listeners, auth,
    config::{Config, Overrides, Secret},
    store::Role,
    tenant_file,
};

#[derive(Parser)]
#[command(name = "switchboard", version, about = "Self-hostable contact server")]
struct Cli {
    /// TOML config file (keys as in docs/operations.md).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Where SQLite keeps its file (default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// postgres://user@host/db, or sqlite:PATH; default SQLite in the data dir.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (public and agent listeners).
    Serve {
        /// Seed the demo tenant and serve the demo shop at /demo/.
        #[arg(long)]
        demo: bool,
        /// Customer-facing listener (widget, visitor WebSocket, demo).
        #[arg(long)]
        public_addr: Option<SocketAddr>,
        /// Staff-facing listener (console, admin, API, metrics).
        #[arg(long)]
        agent_addr: Option<SocketAddr>,
        /// UDP port all WebRTC calls share (default 40000; 0 picks one).
        #[arg(long)]
        media_port: Option<u16>,
        /// Address announced to browsers for media (default: the host's
        /// outward IPv4 address).
        #[arg(long)]
        media_ip: Option<std::net::IpAddr>,
        /// Where SIP trunks reach us, UDP and TCP (default 127.0.0.1:5060).
        #[arg(long)]
        sip_addr: Option<SocketAddr>,
        /// UDP ports for RTP to trunks, e.g. 41000-41999 (default); 0-0 lets
        /// the system pick.
        #[arg(long, value_parser = switchboard::config::parse_port_range)]
        rtp_ports: Option<(u16, u16)>,
    },
    /// Tenants (merchants).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Staff users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Directory members and their SIP passwords.
    Member {
        #[command(subcommand)]
        command: switchboard::directory::cli::MemberCommand,
    },
    /// Permanent numbers: assign, release, move.
    Number {
        #[command(subcommand)]
        command: switchboard::directory::cli::NumberCommand,
    },
    /// API keys for merchant systems.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Run the routing engine on a synthetic day and print service level,
    /// speed of answer, abandonment, occupancy and wait-estimate error beside
    /// the Erlang C prediction. Touches no database.
    Simulate(SimulateArgs),
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Agents, all ready all day.
    #[arg(long, default_value_t = 20)]
    agents: u32,
    /// Distinct skills; each contact needs one, agents hold random subsets.
    #[arg(long, default_value_t = 1)]
    skills: u32,
    /// Poisson arrival rate (the default loads 20 agents to about 90 %).
    #[arg(long, default_value_t = 360.0)]
    arrivals_per_hour: f64,
    /// Mean handle time (exponential), seconds.
    #[arg(long, default_value_t = 180)]
    handle_secs: u64,
    /// Mean patience before a caller gives up (exponential), seconds.
    #[arg(long, default_value_t = 120)]
    patience_secs: u64,
    /// Length of the simulated day, hours.
    #[arg(long, default_value_t = 8.0)]
    hours: f64,
    /// chat or voice.
    #[arg(long, default_value = "voice")]
    media: String,
    /// Chats an agent holds at once (chat only).
    #[arg(long, default_value_t = 3)]
    chat_capacity: u32,
    /// Service level target, seconds.
    #[arg(long, default_value_t = 20)]
    service_level_secs: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Finite and above zero (NaN is not).
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

fn simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    let media = match args.media.as_str() {
        "voice" => acd::Media::Voice,
        "chat" => acd::Media::Chat,
        other => anyhow::bail!("--media must be chat or voice, not {other:?}"),
    };
    if args.agents == 0
        || args.skills == 0
        || !positive(args.arrivals_per_hour)
        || !positive(args.hours)
    {
        anyhow::bail!("--agents, --skills, --arrivals-per-hour and --hours must be above zero");
    }
    let scenario = acd::simulate::Scenario {
        agents: args.agents,
        skills: args.skills,
        arrivals_per_hour: args.arrivals_per_hour,
        mean_handle: std::time::Duration::from_secs(args.handle_secs.max(1)),
        mean_patience: std::time::Duration::from_secs(args.patience_secs.max(1)),
        hours: args.hours,
        media,
        chat_capacity: args.chat_capacity.max(1),
        seed: args.seed,
        service_level_target: std::time::Duration::from_secs(args.service_level_secs),
    };
    let report = acd::simulate::run(&scenario);
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{report}");
    Ok(())
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints its widget signing secret once.
    Add {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Apply a tenant file: links, queues, skills, agents, origins, customers.
    Apply { file: PathBuf },
    /// Print a tenant's current setup as a tenant file `apply` accepts
    /// (without CRM customers; with the widget secret unless told not to).
    Export {
        slug: String,
        #[arg(long)]
        without_widget_secret: bool,
    },
    /// Sign a visitor identity token with the tenant's secret (what a
    /// merchant's server does), for testing an embed.
    Sign {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        sub: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long = "entitlement")]
        entitlements: Vec<String>,
        /// Seconds until the token expires.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a staff user. The password is read from stdin when it is not a
    /// terminal, else generated and printed once.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// agent, supervisor or admin
        #[arg(long)]
        role: Role,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Disable a user: no login, sessions ended (a running server closes
    /// their consoles within a minute).
    Disable {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
    /// Let a disabled user log in again.
    Enable {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create an API key; printed once.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// Days until the key expires; without it, it does not.
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// A scope beyond the default (`recordings`); repeatable.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List the tenant's keys (never the keys themselves).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Delete a key by its id (from `list`); refused from the next request on.
    Delete {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: i64,
    },
}

/// The log filter: `RUST_LOG`, or `info`. rsipstack logs whole SIP messages
/// (phone numbers, addresses) at info, so it stays at warn unless `RUST_LOG`
/// names it: a plain `RUST_LOG=info` must not put callers' numbers in the log.
fn log_filter(rust_log: Option<String>) -> String {
    let filter = rust_log
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| "info".to_owned());
    if filter.contains("rsipstack") {
        filter
    } else {
        format!("{filter},rsipstack=warn")
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(log_filter(
            std::env::var("RUST_LOG").ok(),
        )))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    if let Command::Simulate(args) = &cli.command {
        return simulate(args);
    }
    let demo = matches!(cli.command, Command::Serve { demo: true, .. });
    let mut overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        demo,
        ..Overrides::default()
    };
    if let Command::Serve {
        public_addr,
        agent_addr,
        media_port,
        media_ip,
        sip_addr,
        rtp_ports,
        ..
    } = &cli.command
    {
        overrides.public_addr = *public_addr;
        overrides.agent_addr = *agent_addr;
        overrides.media_port = *media_port;
        overrides.media_ip = *media_ip;
        overrides.sip_addr = *sip_addr;
        overrides.rtp_ports = *rtp_ports;
    }
    let env = std::env::vars().filter(|(k, _)| k.starts_with("SWITCHBOARD_"));
    let config = Config::load(cli.config.as_deref(), env, overrides)?;
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Tenant { command } => tenant(&config, command).await,
        Command::User { command } => user(&config, command).await,
        Command::Apikey { command } => apikey(&config, command).await,
        Command::Member { command } => switchboard::directory::cli::member(&config, command).await,
        Command::Number { command } => switchboard::directory::cli::number(&config, command).await,
        Command::Simulate(args) => simulate(&args),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = switchboard::open_store(&config).await?;
    let listeners = Listeners::bind(&config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen: {e}"))?;
    let (public, agent) = listeners.addrs()?;
    // Scripts and tests wait for this exact line. A closed stdout (a reader
    // that went away) must not stop the server, so write errors are ignored
    // rather than panicking as println! would.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "switchboard listening public=http://{public} agent=http://{agent}"
    );
    if config.demo {
        let _ = writeln!(
            stdout,
            "demo shop: http://{public}/demo/   agent console: http://{agent}/"
        );
    }
    let _ = stdout.flush();
    tracing::info!(%public, %agent, demo = config.demo, "switchboard started");
    switchboard::run(config, store, listeners, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

async fn tenant(config: &Config, command: TenantCommand) -> anyhow::Result<()> {
    let store = switchboard::open_store(config).await?;
    match command {
        TenantCommand::Add { slug, name } => {
            let probe = format!("[tenant]\nslug = {}\n", toml_string(&slug));
            tenant_file::parse(&probe)?;
            let secret = Secret::new(auth::random_token());
            let tenant = store
                .create_tenant(&slug, name.as_deref().unwrap_or(&slug), &secret)
                .await?;
            println!("tenant {} created", tenant.slug);
            println!("widget signing secret (shown once): {}", secret.expose());
        }
        TenantCommand::Apply { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let parsed = tenant_file::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let applied = tenant_file::apply(&store, &parsed, &|_| None).await?;
            println!(
                "tenant {} {}: {} queues, {} links, {} customers",
                parsed.tenant.slug.get_ref(),
                if applied.created_tenant {
                    "created"
                } else {
                    "updated"
                },
                applied.queues,
                applied.links,
                applied.customers
            );
            for (name, password) in applied.new_users {
                println!("new user {name}: password (shown once): {password}");
            }
        }
        TenantCommand::Export {
            slug,
            without_widget_secret,
        } => {
            let tenant = store
                .tenant_by_slug(&slug)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no tenant {slug:?}"))?;
            let secrets = if without_widget_secret {
                switchboard::tenant_export::Secrets::WithoutWidgetSecret
            } else {
                switchboard::tenant_export::Secrets::Include
            };
            print!(
                "{}",
                switchboard::tenant_export::export(&store, tenant.id, secrets).await?
            );
        }
        TenantCommand::Sign {
            tenant,
            sub,
            name,
            email,
            entitlements,
            ttl,
        } => {
            let t = store
                .tenant_by_slug(&tenant)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no tenant {tenant:?}"))?;
            if ttl > auth::MAX_IDENTITY_LIFETIME_SECS {
                anyhow::bail!(
                    "--ttl {ttl}: an identity token is good for at most {} s",
                    auth::MAX_IDENTITY_LIFETIME_SECS
                );
            }
            let claims = auth::IdentityClaims {
                name,
                email,
                entitlements,
                ..auth::IdentityClaims::new(&t.slug, sub, ttl)
            };
            println!(
                "{}",
                auth::sign_identity(&claims, t.widget_secret.expose())?
            );
        }
    }
    store.close().await;
    Ok(())
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let (tenant, name, role, display_name) = match command {
        UserCommand::Add {
            tenant,
            name,
            role,
            display_name,
        } => (tenant, name, role, display_name),
        UserCommand::Disable { tenant, name } => {
            return set_disabled(config, &tenant, &name, true).await;
        }
        UserCommand::Enable { tenant, name } => {
            return set_disabled(config, &tenant, &name, false).await;
        }
    };
    let probe = format!(
        "[tenant]\nslug = \"x\"\n[[agents]]\nname = {}\n",
        toml_string(&name)
    );
    tenant_file::parse(&probe)?;
    let store = switchboard::open_store(config).await?;
    let t = store
        .tenant_by_slug(&tenant)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant {tenant:?}"))?;
    let stdin = std::io::stdin();
    let (password, generated) = if stdin.is_terminal() {
        (auth::random_password(), true)
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.len() < 8 {
            anyhow::bail!("the password read from stdin must be at least 8 characters");
        }
        (line, false)
    };
    let hash = tenant_file::hash_blocking(password.clone()).await?;
    store
        .create_user(
            t.id,
            &name,
            display_name.as_deref().unwrap_or(&name),
            role,
            &hash,
        )
        .await?;
    println!("user {name} ({}) added to {tenant}", role.as_str());
    if generated {
        println!("password (shown once): {password}");
    }
    store.close().await;
    Ok(())
}

async fn set_disabled(
    config: &Config,
    tenant: &str,
    name: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    let store = switchboard::open_store(config).await?;
    let t = store
        .tenant_by_slug(tenant)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant {tenant:?}"))?;
    store
        .set_user_disabled(t.id, name, disabled)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user {name:?} in {tenant}"))?;
    let done = if disabled { "disabled" } else { "enabled" };
    println!("user {name} of {tenant} {done}");
    store.close().await;
    Ok(())
}

async fn apikey(config: &Config, command: ApikeyCommand) -> anyhow::Result<()> {
    let tenant = match &command {
        ApikeyCommand::Add { tenant, .. }
        | ApikeyCommand::List { tenant }
        | ApikeyCommand::Delete { tenant, .. } => tenant.clone(),
    };
    let store = switchboard::open_store(config).await?;
    let t = store
        .tenant_by_slug(&tenant)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant {tenant:?}"))?;
    match command {
        ApikeyCommand::Add {
            name,
            expires_in_days,
            scopes,
            ..
        } => {
            switchboard::http::admin_check_scopes(&scopes).map_err(anyhow::Error::msg)?;
            let expires_at = expires_in_days
                .map(|days| switchboard::store::now_ms() + i64::from(days) * 86_400_000);
            let key = switchboard::http::admin_new_api_key();
            let id = store
                .create_api_key(t.id, &name, &auth::token_hash(&key), expires_at, &scopes)
                .await?;
            println!("API key {name} (id {id}) for {tenant} (shown once): {key}");
        }
        ApikeyCommand::List { .. } => {
            for key in store.api_keys(t.id).await? {
                let expires = key
                    .expires_at
                    .map_or_else(|| "never".to_owned(), |at| at.to_string());
                println!(
                    "{}\t{}\tscopes: {}\texpires_at_ms: {expires}",
                    key.id,
                    key.name,
                    key.scopes.join(",")
                );
            }
        }
        ApikeyCommand::Delete { id, .. } => {
            if !store.delete_api_key(t.id, id).await? {
                anyhow::bail!("no API key {id} in {tenant}");
            }
            println!("API key {id} of {tenant} deleted");
        }
    }
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn the_sip_stack_stays_at_warn_unless_rust_log_names_it() {
        assert_eq!(log_filter(None), "info,rsipstack=warn");
        assert_eq!(log_filter(Some(" ".to_owned())), "info,rsipstack=warn");
        assert_eq!(log_filter(Some("info".to_owned())), "info,rsipstack=warn");
        assert_eq!(
            log_filter(Some("debug,switchboard=trace".to_owned())),
            "debug,switchboard=trace,rsipstack=warn"
        );
        // An operator debugging the SIP stack asks for it by name.
        assert_eq!(
            log_filter(Some("info,rsipstack=debug".to_owned())),
            "info,rsipstack=debug"
        );
    }
}

//! `switchboard member ...` and `switchboard number ...`.

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use clap::Subcommand;

use super::{Directory, NumberRequest, PermanentNumber};
use crate::config::Config;
use crate::ids::TenantId;
use crate::store::{MemberQuery, Store};

/// Days a released number rests before it is given out again.
const DEFAULT_QUARANTINE_DAYS: u64 = super::members::DEFAULT_QUARANTINE.as_secs() / 86_400;

#[derive(Subcommand)]
pub enum MemberCommand {
    /// Enrol a member and give them a number (random, or --vanity if free).
    Add {
        #[arg(long)]
        tenant: String,
        /// Sign-in and SIP user name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        /// The staff user (by name) this member is.
        #[arg(long)]
        staff: Option<String>,
        /// Keep them out of the directory listing (reachable by number only).
        #[arg(long)]
        unlisted: bool,
        /// Ask for this number, e.g. "7777 7777 7777".
        #[arg(long)]
        vanity: Option<String>,
        #[command(flatten)]
        quarantine: Quarantine,
    },
    /// List the tenant's members and their numbers.
    List {
        #[arg(long)]
        tenant: String,
        /// Part of a name or number.
        #[arg(long, default_value = "")]
        search: String,
    },
    /// Set the member's SIP password: read from stdin when it is not a
    /// terminal, else generated and printed once. Devices sign in with the
    /// member's name (domain: the tenant's slug) or any number they hold now.
    SipPassword {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum NumberCommand {
    /// Give a member another number.
    Assign {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        member: String,
        #[arg(long)]
        vanity: Option<String>,
        #[command(flatten)]
        quarantine: Quarantine,
    },
    /// Take a number back; it is not given out again during the quarantine.
    Release {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        number: String,
    },
    /// Move a number to another member of the tenant.
    Move {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        number: String,
        #[arg(long)]
        to: String,
    },
}

#[derive(clap::Args)]
pub struct Quarantine {
    /// Days a released number rests before anyone gets it again.
    #[arg(long = "quarantine-days", env = "SWITCHBOARD_NUMBER_QUARANTINE_DAYS", default_value_t = DEFAULT_QUARANTINE_DAYS)]
    days: u64,
}

impl Quarantine {
    fn duration(&self) -> Duration {
        Duration::from_secs(self.days.saturating_mul(86_400))
    }
}

async fn open(config: &Config, slug: &str) -> anyhow::Result<(Store, TenantId)> {
    let store = crate::open_store(config).await?;
    let tenant = store
        .tenant_by_slug(slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant {slug:?}"))?;
    Ok((store, tenant.id))
}

fn request(vanity: Option<&str>) -> anyhow::Result<NumberRequest> {
    Ok(match vanity {
        Some(text) => NumberRequest::Vanity(PermanentNumber::parse(text)?),
        None => NumberRequest::Any,
    })
}

pub async fn member(config: &Config, command: MemberCommand) -> anyhow::Result<()> {
    match command {
        MemberCommand::Add {
            tenant,
            name,
            display_name,
            staff,
            unlisted,
            vanity,
            quarantine,
        } => {
            let request = request(vanity.as_deref())?;
            let (store, t) = open(config, &tenant).await?;
            let user = match staff {
                Some(staff) => Some(
                    store
                        .user_by_name(t, &staff)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no staff user {staff:?}"))?
                        .id,
                ),
                None => None,
            };
            let directory = Directory::new(store.clone(), quarantine.duration());
            let display = display_name.as_deref().unwrap_or(&name);
            directory.enrol(t, &name, display, user, !unlisted).await?;
            let number = directory.assign(t, &name, request).await?;
            println!("member {name} added to {tenant} with number {number}");
            store.close().await;
        }
        MemberCommand::List { tenant, search } => {
            let (store, t) = open(config, &tenant).await?;
            let query = MemberQuery {
                search: &search,
                include_unlisted: true,
                limit: 1000,
                offset: 0,
            };
            for m in store.members(t, query).await? {
                let numbers: Vec<String> = m
                    .numbers
                    .iter()
                    .filter_map(|n| PermanentNumber::parse(n).ok())
                    .map(|n| n.to_string())
                    .collect();
                let listed = if m.listed { "" } else { " (unlisted)" };
                println!(
                    "{}\t{}{listed}\t{}",
                    m.name,
                    m.display_name,
                    numbers.join(", ")
                );
            }
            store.close().await;
        }
        MemberCommand::SipPassword { tenant, name } => {
            let stdin = std::io::stdin();
            let (password, generated) = if stdin.is_terminal() {
                (crate::auth::random_password(), true)
            } else {
                let mut line = String::new();
                stdin.lock().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            };
            let (store, t) = open(config, &tenant).await?;
            // The quarantine plays no part in setting a password.
            let directory = Directory::new(store.clone(), Duration::ZERO);
            directory.set_sip_password(t, &name, &password).await?;
            println!("SIP password of {name} set (a running server takes it within a minute)");
            if generated {
                println!("password (shown once): {password}");
            }
            store.close().await;
        }
    }
    Ok(())
}

pub async fn number(config: &Config, command: NumberCommand) -> anyhow::Result<()> {
    match command {
        NumberCommand::Assign {
            tenant,
            member,
            vanity,
            quarantine,
        } => {
            let request = request(vanity.as_deref())?;
            let (store, t) = open(config, &tenant).await?;
            let directory = Directory::new(store.clone(), quarantine.duration());
            let number = directory.assign(t, &member, request).await?;
            println!("number {number} assigned to {member}");
            store.close().await;
        }
        NumberCommand::Release { tenant, number } => {
            let number = PermanentNumber::parse(&number)?;
            let (store, t) = open(config, &tenant).await?;
            Directory::new(store.clone(), Duration::ZERO)
                .release(t, &number)
                .await?;
            println!("number {number} released");
            store.close().await;
        }
        NumberCommand::Move { tenant, number, to } => {
            let number = PermanentNumber::parse(&number)?;
            let (store, t) = open(config, &tenant).await?;
            Directory::new(store.clone(), Duration::ZERO)
                .move_number(t, &number, &to)
                .await?;
            println!("number {number} moved to {to}");
            store.close().await;
        }
    }
    Ok(())
}

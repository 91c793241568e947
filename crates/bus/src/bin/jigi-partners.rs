//! `jigi-partners`: an operator's command for partners' durable consumers
//! on the national hub (see README, "Subscribing to Jigi's events").
//!
//! ```text
//! jigi-partners add partner_donor --json --since 2018-10-01
//! jigi-partners add partner_dhis2 --filter 'jigi.*.nutrition.>'
//! jigi-partners show partner_dhis2
//! jigi-partners remove partner_donor --json
//! ```
//!
//! It connects as an operator (`JIGI_NATS_URL`, e.g.
//! `nats://national:PASSWORD@hub:4222`). The partner's NATS user and its
//! permissions come from `deploy/nats/gen-accounts` (`PARTNERS`).

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use jigi_bus::partners::{self, Outcome, PartnerSubscription, Since};
use jigi_bus::{Bus, BusConfig, json, subject};

#[derive(Parser)]
#[command(name = "jigi-partners", about = "Partners' durable consumers on Jigi's national hub")]
struct Cli {
    /// The hub, with an operator's user: nats://national:PASSWORD@host:4222.
    #[arg(long, env = "JIGI_NATS_URL", default_value = "nats://127.0.0.1:4222", global = true)]
    nats_url: String,
    /// A NATS credentials file (operator-mode deployments).
    #[arg(long, env = "JIGI_NATS_CREDENTIALS", global = true)]
    nats_credentials: Option<std::path::PathBuf>,
    /// The hub's JetStream domain, when addressing it from elsewhere.
    #[arg(long, env = "JIGI_NATS_DOMAIN", global = true)]
    nats_domain: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the partner's consumer (leaves it as it is when it exists with the same filter).
    Add {
        #[command(flatten)]
        target: Target,
        /// Subjects the partner may see; default every subject of the stream.
        #[arg(long)]
        filter: Option<String>,
        /// `start` (default), `new`, a date (2018-10-01, UTC) or an RFC 3339 time.
        #[arg(long, default_value = "start")]
        since: Since,
        /// Delete an existing consumer of that name first (to replay, or change the filter).
        #[arg(long)]
        replace: bool,
    },
    /// Shows the partner's consumer: filter, start, progress.
    Show {
        #[command(flatten)]
        target: Target,
    },
    /// Deletes the partner's consumer.
    Remove {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Args)]
struct Target {
    /// The partner's NATS user, which names its consumer (e.g. partner_dhis2).
    name: String,
    /// On JIGI_JSON (CloudEvents in JSON) rather than JIGI_NATIONAL (protobuf).
    #[arg(long)]
    json: bool,
}

impl Target {
    fn stream(&self) -> &'static str {
        if self.json {
            json::STREAM
        } else {
            subject::NATIONAL_STREAM
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = BusConfig::new(cli.nats_url.clone(), "jigi-partners");
    config.credentials_file = cli.nats_credentials.clone();
    config.jetstream_domain = cli.nats_domain.clone();
    match run(cli, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("jigi-partners: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, config: BusConfig) -> Result<(), String> {
    let bus = Bus::connect(&config).await.map_err(|err| err.to_string())?;
    let js = &bus.jetstream;
    match cli.command {
        Command::Add {
            target,
            filter,
            since,
            replace,
        } => {
            let mut subscription = PartnerSubscription::everything(&target.name, target.stream());
            if let Some(filter) = filter {
                subscription.filter = filter;
            }
            subscription.since = since;
            let (outcome, info) = if replace {
                partners::replace_partner_consumer(js, &subscription).await
            } else {
                partners::ensure_partner_consumer(js, &subscription).await
            }
            .map_err(|err| err.to_string())?;
            let done = match outcome {
                Outcome::Created => "created",
                Outcome::Unchanged => "already there, unchanged",
                Outcome::Replaced => "replaced",
            };
            println!("{done}: {}", partners::describe(&info));
            let (publish, subscribe) = partners::permissions(&subscription);
            println!(
                "the partner's user {} needs (deploy/nats/gen-accounts, PARTNERS): publish {publish:?}, subscribe {subscribe:?}; its client uses the inbox prefix {}",
                subscription.name,
                partners::inbox_prefix(&subscription.name)
            );
        }
        Command::Show { target } => match partners::partner_consumer(js, target.stream(), &target.name)
            .await
            .map_err(|err| err.to_string())?
        {
            Some(info) => println!("{}", partners::describe(&info)),
            None => return Err(format!("{} has no consumer {}", target.stream(), target.name)),
        },
        Command::Remove { target } => {
            if partners::remove_partner_consumer(js, target.stream(), &target.name)
                .await
                .map_err(|err| err.to_string())?
            {
                println!("removed consumer {} from {}", target.name, target.stream());
            } else {
                println!("{} had no consumer {}", target.stream(), target.name);
            }
        }
    }
    Ok(())
}

//! `jigi partners`: partners' durable consumers on the national hub (see
//! README, "Subscribing to Jigi's events"). It connects as an operator
//! (`JIGI_NATS_URL`, e.g. `nats://national:PASSWORD@hub:4222`); the
//! partner's NATS user and its permissions come from
//! `deploy/nats/gen-accounts` (`PARTNERS`).

use clap::{Args, Subcommand};
use jigi_bus::{Bus, BusConfig, subject};
use jigi_subscribers::json;
use jigi_subscribers::partners::{self, Outcome, PartnerSubscription, Since};

#[derive(Subcommand, Debug)]
pub enum PartnersCommand {
    /// Creates the partner's consumer (leaves it as it is when it exists with the same filter).
    ///
    /// Example: jigi partners add partner_donor --json --since 2018-10-01
    Add {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        hub: Hub,
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
    ///
    /// Example: jigi partners show partner_dhis2
    Show {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        hub: Hub,
    },
    /// Deletes the partner's consumer.
    ///
    /// Example: jigi partners remove partner_donor --json
    Remove {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        hub: Hub,
    },
}

#[derive(Args, Debug)]
pub struct Target {
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

/// Which hub, as which operator.
#[derive(Args, Debug)]
pub struct Hub {
    /// The hub, with an operator's user: nats://national:PASSWORD@host:4222.
    #[arg(long = "nats", env = "JIGI_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// A NATS credentials file (operator-mode deployments).
    #[arg(long, env = "JIGI_NATS_CREDENTIALS")]
    nats_credentials: Option<std::path::PathBuf>,
    /// The hub's JetStream domain, when addressing it from elsewhere.
    #[arg(long, env = "JIGI_NATS_DOMAIN")]
    nats_domain: Option<String>,
    /// The CA of the hub's certificate (PEM): the connection then requires TLS.
    #[arg(long = "nats-tls-ca", env = "JIGI_NATS_TLS_CA")]
    nats_tls_ca: Option<std::path::PathBuf>,
}

pub async fn run(command: PartnersCommand) -> anyhow::Result<()> {
    let hub = match &command {
        PartnersCommand::Add { hub, .. } | PartnersCommand::Show { hub, .. } | PartnersCommand::Remove { hub, .. } => {
            hub
        }
    };
    let mut config = BusConfig::new(hub.nats_url.clone(), "jigi-partners");
    config.credentials_file = hub.nats_credentials.clone();
    config.jetstream_domain = hub.nats_domain.clone();
    config.tls_ca_file = hub.nats_tls_ca.clone();
    config.tls_required = hub.nats_tls_ca.is_some();
    let bus = Bus::connect(&config)
        .await
        .map_err(|err| anyhow::anyhow!("cannot connect to the hub at {}: {err}", hub.nats_url))?;
    let js = &bus.jetstream;
    match command {
        PartnersCommand::Add {
            target,
            hub: _,
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
            .map_err(|err| anyhow::anyhow!("{err}"))?;
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
        PartnersCommand::Show { target, .. } => match partners::partner_consumer(js, target.stream(), &target.name)
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?
        {
            Some(info) => println!("{}", partners::describe(&info)),
            None => anyhow::bail!(
                "{} has no consumer {} (create it with jigi partners add)",
                target.stream(),
                target.name
            ),
        },
        PartnersCommand::Remove { target, .. } => {
            if partners::remove_partner_consumer(js, target.stream(), &target.name)
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))?
            {
                println!("removed consumer {} from {}", target.name, target.stream());
            } else {
                println!("{} had no consumer {}", target.stream(), target.name);
            }
        }
    }
    Ok(())
}

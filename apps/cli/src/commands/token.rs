//! `jigi token`: bearer tokens from a local key, for a local stack, tests
//! and closed networks. In production an OpenID Connect provider (Keycloak
//! or similar) issues them; see the README, "Identity and access".

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use jigi_auth::{Grant, LocalIssuer, Role, Scope};
use jigi_common::Region;

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The signing key (PEM, PKCS#8 Ed25519), created if missing.
    #[arg(long, env = "JIGI_AUTH_KEY", default_value = "jigi-data/auth/local-key.pem")]
    key: PathBuf,
    /// Print the public key set (JWKS) services verify with, instead of a
    /// token: give it to them as JIGI_AUTH_JWKS_FILE.
    #[arg(long, conflicts_with_all = ["subject", "role", "region"])]
    jwks: bool,
    /// Who the token names (`sub`), e.g. a.traore.
    #[arg(long, required_unless_present = "jwks")]
    subject: Option<String>,
    /// A role (repeat for several): field_agent, regional_supervisor,
    /// payment_preparer, payment_approver, payment_agent,
    /// nutrition_store_keeper, national_operator, auditor.
    #[arg(long, required_unless_present = "jwks")]
    role: Vec<Role>,
    /// A region slug (repeat for several), or `national` for every region.
    #[arg(long, required_unless_present = "jwks")]
    region: Vec<String>,
    /// For a payment agent: their agent code.
    #[arg(long)]
    agent_code: Option<String>,
    /// How long the token lives, in hours.
    #[arg(long, default_value_t = 8)]
    hours: u64,
}

/// Prints a token (or the key set).
///
/// Example: jigi token --subject a.traore --role payment_preparer --region sikasso
pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let issuer = LocalIssuer::load_or_create(&args.key)?;
    if args.jwks {
        println!("{}", issuer.key_set().to_json());
        return Ok(());
    }
    if args.hours == 0 || args.hours > 24 * 31 {
        anyhow::bail!("--hours must be between 1 and 744 (a month)");
    }
    let scope = scope(&args.region)?;
    let subject = args.subject.unwrap_or_default();
    let mut grant = Grant::new(&subject, &args.role, scope);
    grant.agent_code = args.agent_code;
    grant.lifetime = Duration::from_secs(args.hours * 3600);
    println!("{}", issuer.issue(&grant));
    Ok(())
}

fn scope(regions: &[String]) -> anyhow::Result<Scope> {
    if regions.iter().any(|r| r == jigi_auth::NATIONAL) {
        return Ok(Scope::National);
    }
    let regions = regions
        .iter()
        .map(|slug| {
            slug.parse::<Region>().map_err(|_| {
                anyhow::anyhow!("--region {slug:?} is not a region slug (sikasso, mopti, …) or `national`")
            })
        })
        .collect::<anyhow::Result<BTreeSet<Region>>>()?;
    Ok(Scope::Regions(regions))
}

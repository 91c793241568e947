//! The registry's commands and queries. Each command takes domain values
//! (the gRPC layer reads requests into them) and checks what remains of its
//! input, then runs on the write path: it checks the rules against the stored
//! household and writes its change, its event (outbox) and, for a
//! registration, its request ID (idempotency), in one transaction. Queries
//! run on the database's readers.

mod changes;
mod linkage;
mod queries;
mod register;
pub mod transfers;

use std::sync::Arc;

use jigi_common::{Geography, Region};
use jigi_server::CommandError;
use jigi_storage::{Cache, Conn, Database};

pub use changes::{BatchEnrolment, MAX_BATCH, Targets};
pub use queries::{ListQuery, Page};
pub use register::{ImportRow, ImportSession, RowOutcome};

use crate::domain::identity;
use crate::domain::linkage::LinkageKey;
use crate::domain::model::Household;
use crate::domain::pmt::PmtConfig;
use crate::domain::validate::Rules;
use crate::storage;

/// The registry of one region.
#[derive(Clone)]
pub struct Registry {
    db: Database,
    geography: Arc<Geography>,
    pmt: Arc<PmtConfig>,
    region: Region,
    /// The active linkage keys; empty: no match keys are computed.
    linkage: Arc<Vec<LinkageKey>>,
    /// Households as `GetHousehold` last read them, kept exact by the
    /// write path (`storage::HOUSEHOLD_CACHE`).
    households: Cache<Household>,
}

/// Households kept in memory for `GetHousehold` unless configured
/// otherwise (`JIGI_CACHED_HOUSEHOLDS`): about 2 KiB each, 8 MiB at most.
pub const CACHED_HOUSEHOLDS: usize = 4_096;

impl Registry {
    pub fn new(db: Database, geography: Arc<Geography>, pmt: Arc<PmtConfig>, region: Region) -> Registry {
        Registry {
            households: db.cache(storage::HOUSEHOLD_CACHE, CACHED_HOUSEHOLDS),
            db,
            geography,
            pmt,
            region,
            linkage: Arc::default(),
        }
    }

    /// Keeps at most `capacity` households in memory for `GetHousehold`
    /// (0: every read goes to the database).
    pub fn with_cached_households(mut self, capacity: usize) -> Registry {
        self.households = self.db.cache(storage::HOUSEHOLD_CACHE, capacity);
        self
    }

    /// The households kept for `GetHousehold` (for metrics and tests).
    pub fn household_cache(&self) -> &Cache<Household> {
        &self.households
    }

    /// Computes match keys with these linkage keys (every one of them, during a rotation).
    pub fn with_linkage_keys(mut self, keys: Vec<LinkageKey>) -> Registry {
        self.linkage = Arc::new(keys);
        self
    }

    pub fn region(&self) -> Region {
        self.region
    }

    pub fn geography(&self) -> &Geography {
        &self.geography
    }

    /// Validation rules as of today (the API reads requests with them).
    pub fn rules(&self) -> Rules<'_> {
        Rules::today(&self.geography, self.region)
    }

    /// Loads a household for a change, or says it does not exist.
    fn load_for_change(&self, conn: &mut Conn, household_id: &str) -> Result<Household, CommandError> {
        storage::load(conn, household_id)?.ok_or_else(|| household_not_found(household_id))
    }

    /// Rescores, bumps the version and saves a changed household's own row,
    /// refusing a head that another household already has.
    fn save_changed(&self, conn: &mut Conn, household: &mut Household) -> Result<(), CommandError> {
        household.pmt = self.pmt.assess(
            household.location.region,
            &household.members,
            &household.traits,
            today(),
        );
        household.version += 1;
        household.updated_at = jigi_storage::timestamp::now_utc();
        let head = household.head();
        let head_key = identity::head_key(
            &head.given_name,
            &head.family_name,
            head.birth_date,
            &household.location,
        );
        if let Some(other) = storage::households_by_head_key(conn, std::slice::from_ref(&head_key))?
            .remove(&head_key)
            .filter(|other| *other != household.household_id)
        {
            return Err(CommandError::exists(
                "household",
                other.clone(),
                format!("household {other} already has this head (same name, birth date and village)"),
            ));
        }
        storage::update_household(conn, household, &head_key)?;
        Ok(())
    }
}

pub use jigi_common::rules::today;

fn household_not_found(household_id: &str) -> CommandError {
    CommandError::not_found("household", household_id)
}

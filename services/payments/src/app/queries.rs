//! Reading: cycles, entitlements, payment lists, reconciliation, and the
//! households that may be paid.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jigi_common::Period;
use jigi_server::CommandError;

use super::{Payments, load_cycle, refused};
use crate::domain::cycle;
use crate::domain::model::{AgentCode, Channel, Cycle, CycleId, CycleKind, CycleStatus, EntitlementStatus};
use crate::domain::projection::Tracked;
use crate::domain::reconcile::{self, Reconciliation};
use crate::storage::{self, CommuneShare, EntitlementFilter, EntitlementRow};

/// A page of entitlements.
#[derive(Debug)]
pub struct EntitlementPage {
    pub cycle: Cycle,
    pub rows: Vec<EntitlementRow>,
    pub next_page_token: String,
}

/// A page of eligible households.
#[derive(Debug)]
pub struct EligiblePage {
    pub households: Vec<Tracked>,
    pub next_page_token: String,
    pub total: i64,
}

/// What an agent's payment list holds, checked before the first row is sent.
#[derive(Debug, Clone)]
pub struct ExportPlan {
    pub cycle: Cycle,
    pub agent: AgentCode,
    pub channel: Channel,
    pub communes: Vec<String>,
    pub unpaid_only: bool,
}

/// The header line of a payment list.
pub const CSV_HEADER: &str =
    "cycle_id,period,household_id,region,cercle,commune,village,amount_fcfa,agent_code,channel,status\n";

impl ExportPlan {
    /// Rows as CSV lines (values are codes, IDs and numbers; the csv writer
    /// quotes anything that would need it).
    pub fn csv(&self, rows: &[EntitlementRow]) -> String {
        let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        let period = self.cycle.period.to_string();
        for row in rows {
            let amount = row.amount.francs().to_string();
            writer
                .write_record([
                    self.cycle.cycle_id.as_str(),
                    period.as_str(),
                    row.household_id.as_str(),
                    row.place.region.as_str(),
                    row.place.cercle.as_str(),
                    row.place.commune.as_str(),
                    row.place.village.as_str(),
                    amount.as_str(),
                    self.agent.as_str(),
                    self.channel.code(),
                    row.status.code(),
                ])
                .expect("writing CSV to memory cannot fail");
        }
        String::from_utf8(writer.into_inner().expect("in-memory writer")).expect("CSV of UTF-8 strings is UTF-8")
    }
}

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1_000;
const MAX_CYCLE_PAGE: usize = 500;

fn page_size(requested: i32, default: usize, max: usize) -> Result<usize, CommandError> {
    match requested {
        0 => Ok(default),
        n if n < 0 => Err(CommandError::invalid("page_size", "must not be negative")),
        n => Ok((n as usize).min(max)),
    }
}

fn encode_token(parts: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(parts.join("\n"))
}

fn decode_token(token: &str, parts: usize) -> Result<Vec<String>, CommandError> {
    let bad = || CommandError::invalid("page_token", "is not a token this service gave");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let split: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if split.len() != parts {
        return Err(bad());
    }
    Ok(split)
}

impl Payments {
    /// One cycle.
    pub async fn cycle(&self, cycle_id: &CycleId) -> Result<Cycle, CommandError> {
        let cycle_id = cycle_id.to_owned();
        self.db.read(move |conn| load_cycle(conn, &cycle_id)).await
    }

    /// A frozen cycle's totals per commune.
    pub async fn commune_totals(&self, cycle_id: &CycleId) -> Result<Vec<CommuneShare>, CommandError> {
        let cycle_id = cycle_id.to_owned();
        self.db
            .read(move |conn| Ok(storage::commune_totals(conn, &cycle_id)?))
            .await
    }

    /// A page of cycles, newest first; `status` as the API read it
    /// (`None`: every status).
    pub async fn cycles(
        &self,
        period: &str,
        status: Result<Option<CycleStatus>, String>,
        requested_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Cycle>, String), CommandError> {
        let period = match period {
            "" => None,
            code => Some(
                code.parse::<Period>()
                    .map_err(|err| CommandError::invalid("period", err.to_string()))?,
            ),
        };
        let status = status.map_err(|m| CommandError::invalid("status", m))?;
        let size = page_size(requested_size, 50, MAX_CYCLE_PAGE)?;
        let before = match page_token {
            "" => None,
            token => Some(decode_token(token, 1)?.remove(0)),
        };
        let mut cycles = self
            .db
            .read(move |conn| storage::list_cycles(conn, period, status, before.as_deref(), size + 1))
            .await?;
        let next = if cycles.len() > size {
            cycles.truncate(size);
            encode_token(&[&cycles[size - 1].cycle_id])
        } else {
            String::new()
        };
        Ok((cycles, next))
    }

    /// A page of a cycle's entitlements; `status` as the API read it
    /// (`None`: every status).
    pub async fn entitlements(
        &self,
        cycle_id: &CycleId,
        commune: &str,
        agent: Option<AgentCode>,
        status: Result<Option<EntitlementStatus>, String>,
        requested_size: i32,
        page_token: &str,
    ) -> Result<EntitlementPage, CommandError> {
        let status = status.map_err(|m| CommandError::invalid("status", m))?;
        let size = page_size(requested_size, DEFAULT_PAGE, MAX_PAGE)?;
        let after = match page_token {
            "" => None,
            token => {
                let parts = decode_token(token, 2)?;
                Some((parts[0].clone(), parts[1].clone()))
            }
        };
        let (cycle_id, commune) = (cycle_id.to_owned(), commune.to_owned());
        let (cycle, mut rows) = self
            .db
            .read(move |conn| {
                let cycle = load_cycle(conn, &cycle_id)?;
                let mut filter = EntitlementFilter {
                    status,
                    ..EntitlementFilter::default()
                };
                if !commune.is_empty() {
                    filter.communes = Some(vec![commune.clone()]);
                }
                if let Some(agent) = &agent {
                    let theirs: Vec<String> = cycle
                        .agents
                        .iter()
                        .filter(|a| &a.agent == agent)
                        .map(|a| a.commune.clone())
                        .filter(|c| commune.is_empty() || *c == commune)
                        .collect();
                    filter.communes = Some(theirs);
                }
                let rows = storage::entitlement_page(
                    conn,
                    &cycle_id,
                    &filter,
                    after.as_ref().map(|(c, h)| (c.as_str(), h.as_str())),
                    size + 1,
                )?;
                Ok::<_, CommandError>((cycle, rows))
            })
            .await?;
        let next_page_token = if rows.len() > size {
            rows.truncate(size);
            let last = &rows[size - 1];
            encode_token(&[&last.place.commune, &last.household_id])
        } else {
            String::new()
        };
        Ok(EntitlementPage {
            cycle,
            rows,
            next_page_token,
        })
    }

    /// Checks that an agent's payment list may be exported, and what it holds.
    pub async fn export_plan(
        &self,
        agent: AgentCode,
        cycle_id: &CycleId,
        unpaid_only: bool,
    ) -> Result<ExportPlan, CommandError> {
        let cycle = self.cycle(cycle_id).await?;
        cycle::can_export(&cycle).map_err(|r| refused(r, cycle_id))?;
        let theirs: Vec<_> = cycle.agents.iter().filter(|a| a.agent == agent).collect();
        let Some(first) = theirs.first() else {
            return Err(CommandError::not_found(
                "payment agent",
                format!("{} in cycle {cycle_id}", agent.as_str()),
            ));
        };
        Ok(ExportPlan {
            channel: first.channel,
            communes: theirs.iter().map(|a| a.commune.clone()).collect(),
            agent,
            unpaid_only,
            cycle,
        })
    }

    /// The next rows of a payment list after `after` (commune, household):
    /// one page per read, so a long list never holds a reader while the
    /// client takes its time.
    pub async fn export_rows(
        &self,
        plan: &ExportPlan,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<EntitlementRow>, CommandError> {
        let filter = EntitlementFilter {
            communes: Some(plan.communes.clone()),
            status: None,
            unpaid_only: plan.unpaid_only,
        };
        let cycle_id = plan.cycle.cycle_id.clone();
        let after = after.map(|(c, h)| (c.to_owned(), h.to_owned()));
        self.db
            .read(move |conn| {
                let after = after.as_ref().map(|(c, h)| (c.as_str(), h.as_str()));
                Ok(storage::entitlement_page(conn, &cycle_id, &filter, after, limit)?)
            })
            .await
    }

    /// A cycle's reconciliation now.
    pub async fn reconciliation(&self, cycle_id: &CycleId) -> Result<Reconciliation, CommandError> {
        let cycle_id = cycle_id.to_owned();
        self.db
            .read(move |conn| {
                let cycle = load_cycle(conn, &cycle_id)?;
                let counts = storage::count_by_commune_and_status(conn, &cycle_id)?;
                Ok(reconcile::reconcile(&cycle, &counts))
            })
            .await
    }

    /// A page of the households that may be paid.
    pub async fn eligible(
        &self,
        commune: &str,
        requested_size: i32,
        page_token: &str,
    ) -> Result<EligiblePage, CommandError> {
        self.eligible_of(Ok(CycleKind::Tm), "", commune, requested_size, page_token)
            .await
    }

    /// A page of the households a cycle of `kind` (the API's `CycleKind`)
    /// would list: enrolled in TM now, or owed a grant or wages in `period`.
    pub async fn eligible_of(
        &self,
        kind: Result<CycleKind, String>,
        period: &str,
        commune: &str,
        requested_size: i32,
        page_token: &str,
    ) -> Result<EligiblePage, CommandError> {
        let kind = kind.map_err(|m| CommandError::invalid("kind", m))?;
        let owed = match kind {
            CycleKind::Tm => None,
            kind => match period.parse::<jigi_common::Period>() {
                Ok(period @ jigi_common::Period::Quarter { .. }) => Some((kind, period)),
                _ => {
                    return Err(CommandError::invalid(
                        "period.code",
                        "a quarter, YYYYQn, is required to list what AGR_GRANT or HIMO_WAGES cycles pay",
                    ));
                }
            },
        };
        let commune = (!commune.is_empty()).then(|| commune.to_owned());
        let size = page_size(requested_size, DEFAULT_PAGE, MAX_PAGE)?;
        let after = match page_token {
            "" => None,
            token => Some(decode_token(token, 1)?.remove(0)),
        };
        let (mut households, total) = self
            .db
            .read(move |conn| {
                if let Some((kind, period)) = owed {
                    let households =
                        storage::owed_page(conn, kind, period, commune.as_deref(), after.as_deref(), size + 1)?;
                    let total = storage::owed_count(conn, kind, period, commune.as_deref())?;
                    return Ok::<_, CommandError>((households, total));
                }
                let households = storage::eligible_page(conn, commune.as_deref(), after.as_deref(), size + 1)?;
                let total = storage::eligible_count(conn, commune.as_deref())?;
                Ok::<_, CommandError>((households, total))
            })
            .await?;
        let next_page_token = if households.len() > size {
            households.truncate(size);
            encode_token(&[&households[size - 1].household_id])
        } else {
            String::new()
        };
        Ok(EligiblePage {
            households,
            next_page_token,
            total,
        })
    }
}

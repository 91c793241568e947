//! The monitoring's gRPC API as the console reads it: every call carries
//! the signed-in operator's own token, so the monitoring applies its scope
//! checks too (a regional supervisor's call for another region is refused
//! there as well as here). Answers become the [`domain`](crate::domain)'s
//! figures here, so no page sees a proto type.

use chrono::{DateTime, Utc};
use jigi_common::Region;
use jigi_proto::common::{Component, FundingSource, Period};
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_proto::monitoring::{
    Breakdown, DataAsOf, FreshnessStatus, GetBudgetExecutionRequest, GetFreshnessRequest, GetIndicatorsRequest,
    IndicatorRow, ListCycleIndicatorsRequest, ListRoundIndicatorsRequest, PnpGroups, RegionFreshness, RoundState,
};
use tonic::transport::{Channel, Endpoint};

use crate::domain::{AsOf, Budget, BudgetRow, Cycle, Figures, Freshness, Round, RoundReport, Staleness};

/// Why the monitoring gave no figures.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The monitoring refused the operator (token or scope).
    #[error("refused by the monitoring: {0}")]
    Refused(String),
    /// A bad period or area.
    #[error("{0}")]
    Invalid(String),
    /// It did not answer, or failed.
    #[error("the monitoring did not answer: {0}")]
    Unavailable(String),
}

impl From<tonic::Status> for ReadError {
    fn from(status: tonic::Status) -> ReadError {
        match status.code() {
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => {
                ReadError::Refused(status.message().to_owned())
            }
            tonic::Code::InvalidArgument => ReadError::Invalid(status.message().to_owned()),
            _ => ReadError::Unavailable(format!("{}: {}", status.code(), status.message())),
        }
    }
}

/// Figures with the freshness of the regions they cover and how far into
/// the national stream they go.
#[derive(Debug, Clone, Default)]
pub struct Report<T> {
    pub value: T,
    pub freshness: Vec<Freshness>,
    pub as_of: AsOf,
}

/// A client of the monitoring, shared by every request (the channel
/// multiplexes them).
#[derive(Clone)]
pub struct MonitoringReader {
    channel: Channel,
}

/// Why the monitoring's address or CA was refused.
#[derive(Debug, thiserror::Error)]
pub enum BadAddress {
    #[error("{0:?} is not a valid address for the monitoring; use http://host:port or https://host:port")]
    Url(String),
    #[error("{0} is an https address: give the CA that signs the monitoring's certificate (JIGI_MONITORING_TLS_CA)")]
    NoCa(String),
    #[error("cannot read the monitoring's CA {path}: {reason}")]
    Ca { path: String, reason: String },
}

impl MonitoringReader {
    /// A client of the monitoring at `url`, connecting on first use (the
    /// console starts whether or not the monitoring is up yet). An `https`
    /// URL needs `ca`, the CA that signs the monitoring's certificate (as
    /// deployed, the services serve their APIs over TLS only).
    pub fn connect(url: &str, ca: Option<&std::path::Path>) -> Result<MonitoringReader, BadAddress> {
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|_| BadAddress::Url(url.to_owned()))?
            .tcp_nodelay(true)
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30));
        if url.starts_with("https://") {
            let path = ca.ok_or_else(|| BadAddress::NoCa(url.to_owned()))?;
            let pem = std::fs::read(path).map_err(|err| BadAddress::Ca {
                path: path.display().to_string(),
                reason: err.to_string(),
            })?;
            let tls =
                tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(pem));
            endpoint = endpoint.tls_config(tls).map_err(|err| BadAddress::Ca {
                path: path.display().to_string(),
                reason: err.to_string(),
            })?;
        }
        Ok(MonitoringReader {
            channel: endpoint.connect_lazy(),
        })
    }

    fn client(&self) -> MonitoringServiceClient<Channel> {
        MonitoringServiceClient::new(self.channel.clone())
    }

    /// The indicators of `area` (empty: the country) over `period`, one row
    /// for the area, or one per region with `by_region`.
    pub async fn indicators(
        &self,
        token: &str,
        area: &str,
        period: &str,
        by_region: bool,
    ) -> Result<Report<Vec<Figures>>, ReadError> {
        let breakdown = if by_region {
            Breakdown::Region
        } else {
            Breakdown::Unspecified
        };
        let request = GetIndicatorsRequest {
            area: area.to_owned(),
            period: Some(Period {
                code: period.to_owned(),
            }),
            breakdown: breakdown as i32,
        };
        let answer = self
            .client()
            .get_indicators(authorized(request, token)?)
            .await?
            .into_inner();
        Ok(Report {
            value: answer.rows.iter().map(figures).collect(),
            freshness: answer.freshness.iter().filter_map(freshness).collect(),
            as_of: as_of(answer.as_of),
        })
    }

    /// Each region's freshness (the caller's regions only, the monitoring sees to it).
    pub async fn freshness(&self, token: &str) -> Result<Report<()>, ReadError> {
        let answer = self
            .client()
            .get_freshness(authorized(GetFreshnessRequest {}, token)?)
            .await?
            .into_inner();
        Ok(Report {
            value: (),
            freshness: answer.regions.iter().filter_map(freshness).collect(),
            as_of: as_of(answer.as_of),
        })
    }

    /// The PTBA of `year` and its execution.
    pub async fn budget(&self, token: &str, year: i32) -> Result<Report<Budget>, ReadError> {
        let answer = self
            .client()
            .get_budget_execution(authorized(
                GetBudgetExecutionRequest {
                    year,
                    region: String::new(),
                },
                token,
            )?)
            .await?
            .into_inner();
        let lines = answer
            .lines
            .iter()
            .map(|line| {
                let budget = line.line.clone().unwrap_or_default();
                BudgetRow {
                    component: component_name(budget.component),
                    funder: funder_name(budget.funding_source),
                    forecast_fcfa: budget.forecast.unwrap_or_default().fcfa,
                    achieved_fcfa: line.achieved.unwrap_or_default().fcfa,
                    execution_rate: line.execution_rate,
                }
            })
            .collect();
        let components = answer
            .components
            .iter()
            .map(|c| BudgetRow {
                component: component_name(c.component),
                funder: String::new(),
                forecast_fcfa: c.forecast.unwrap_or_default().fcfa,
                achieved_fcfa: c.achieved.unwrap_or_default().fcfa,
                execution_rate: c.execution_rate,
            })
            .collect();
        Ok(Report {
            value: Budget {
                year,
                lines,
                components,
                forecast_fcfa: answer.forecast.unwrap_or_default().fcfa,
                achieved_fcfa: answer.achieved.unwrap_or_default().fcfa,
                execution_rate: answer.execution_rate,
            },
            freshness: answer.freshness.iter().filter_map(freshness).collect(),
            as_of: as_of(answer.as_of),
        })
    }

    /// The payment cycles of `region` (empty: every region).
    pub async fn cycles(&self, token: &str, region: &str) -> Result<Report<Vec<Cycle>>, ReadError> {
        let request = ListCycleIndicatorsRequest {
            region: region.to_owned(),
            period: None,
        };
        let answer = self
            .client()
            .list_cycle_indicators(authorized(request, token)?)
            .await?
            .into_inner();
        let cycles = answer
            .cycles
            .iter()
            .map(|c| Cycle {
                cycle_id: c.cycle_id.clone(),
                region: c.region.clone(),
                period: c.period.clone(),
                funder: funder_name(c.funding_source),
                status: c.status.clone(),
                expected_households: c.expected_households,
                expected_fcfa: c.expected_amount.unwrap_or_default().fcfa,
                households_paid: c.households_paid,
                paid_fcfa: c.amount_paid.unwrap_or_default().fcfa,
                payments_failed: c.payments_failed,
                payments_not_collected: c.payments_not_collected,
                outstanding_fcfa: c.amount_outstanding.unwrap_or_default().fcfa,
                success_rate: c.payment_success_rate,
            })
            .collect();
        Ok(Report {
            value: cycles,
            freshness: answer.freshness.iter().filter_map(freshness).collect(),
            as_of: as_of(answer.as_of),
        })
    }

    /// The PNP rounds of `region` (empty: every region), every state.
    pub async fn rounds(&self, token: &str, region: &str) -> Result<Report<Vec<Round>>, ReadError> {
        let request = ListRoundIndicatorsRequest {
            region: region.to_owned(),
            period: None,
            state: RoundState::Unspecified as i32,
        };
        let answer = self
            .client()
            .list_round_indicators(authorized(request, token)?)
            .await?
            .into_inner();
        let rounds = answer
            .rounds
            .into_iter()
            .map(|r| Round {
                closed: r.state == RoundState::Closed as i32,
                served: groups(r.served),
                reported: r.control.map(|c| RoundReport {
                    planned: groups(c.planned),
                    reached: groups(c.reached),
                    distributed_grams: c.distributed_grams,
                }),
                round_id: r.round_id,
                region: r.region,
                period: r.period,
                starts_on: r.starts_on,
                ends_on: r.ends_on,
                closed_on: r.closed_on,
                pilot_communes: r.pilot_communes,
                households_served: r.households_served,
                rations: r.rations,
                flour_grams: r.flour_distributed_grams,
                lost_grams: r.flour_lost_grams,
                reconciled: r.reconciled,
            })
            .collect();
        Ok(Report {
            value: rounds,
            freshness: answer.freshness.iter().filter_map(freshness).collect(),
            as_of: as_of(answer.as_of),
        })
    }
}

fn groups(groups: Option<PnpGroups>) -> [i64; 3] {
    let g = groups.unwrap_or_default();
    [g.children, g.pregnant_women, g.lactating_women]
}

/// `request` with `authorization: Bearer <token>`.
fn authorized<T>(message: T, token: &str) -> Result<tonic::Request<T>, ReadError> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| ReadError::Refused("the token is not ASCII".into()))?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

fn figures(row: &IndicatorRow) -> Figures {
    let i = row.indicators.clone().unwrap_or_default();
    Figures {
        area: row.area.clone(),
        name: row.area_name.clone(),
        period: row.period.clone(),
        households_registered: i.households_registered,
        enrolled: i
            .enrolled
            .iter()
            .map(|c| (component_name(c.component), c.households))
            .collect(),
        households_paid: i.households_paid,
        amount_paid_fcfa: i.amount_paid.unwrap_or_default().fcfa,
        payments_failed: i.payments_failed,
        payments_not_collected: i.payments_not_collected,
        success_rate: i.payment_success_rate,
        children_reached: i.pnp_children_reached,
        pregnant_women_reached: i.pnp_pregnant_women_reached,
        lactating_women_reached: i.pnp_lactating_women_reached,
        flour_grams: i.flour_distributed_grams,
    }
}

fn freshness(f: &RegionFreshness) -> Option<Freshness> {
    let region: Region = f.region.parse().ok()?;
    let staleness = match FreshnessStatus::try_from(f.status) {
        Ok(FreshnessStatus::Live) => Staleness::Live,
        Ok(FreshnessStatus::Silent) => Staleness::Silent,
        _ => Staleness::NeverHeard,
    };
    Some(Freshness {
        region,
        staleness,
        last_received_at: f.last_received_at.as_ref().and_then(timestamp),
        last_event_time: f.last_event_time.as_ref().and_then(timestamp),
        lag_p50_seconds: f.lag_p50_seconds,
        lag_p99_seconds: f.lag_p99_seconds,
        events_received: f.events_received,
    })
}

fn as_of(as_of: Option<DataAsOf>) -> AsOf {
    let as_of = as_of.unwrap_or_default();
    AsOf {
        applied_at: as_of.applied_at.as_ref().and_then(timestamp),
        events_waiting: as_of.events_waiting,
    }
}

fn timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
}

/// A component's short programme name: `TM`, `PNP`, `MA`, `AGR`, `HIMO`.
pub fn component_name(component: i32) -> String {
    Component::try_from(component)
        .map(|c| c.as_str_name().trim_start_matches("COMPONENT_").to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// A funder's name: `Banque mondiale (IDA)`… kept in the programme's own
/// words (they are proper names in both languages).
pub fn funder_name(source: i32) -> String {
    match FundingSource::try_from(source) {
        Ok(FundingSource::WorldBankIda) => "Banque mondiale (IDA)".into(),
        Ok(FundingSource::Dfid) => "DFID".into(),
        Ok(FundingSource::StateBudget) => "Budget national".into(),
        Ok(FundingSource::Other) => "Autre".into(),
        _ => "—".into(),
    }
}

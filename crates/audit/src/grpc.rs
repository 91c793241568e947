//! `jigi.audit.v1.AuditService`: the log, read by auditors.

use jigi_auth::{Role, Rule};
use jigi_proto::audit::audit_service_server::{AuditService, AuditServiceServer};
use jigi_proto::audit::*;
use tonic::{Request, Response, Status};

use crate::AuditLog;
use crate::chain::Entry;

/// Who may read the log: auditors, within their region scope.
pub const RULES: &[Rule] = &[
    Rule::query("ListAuditEntries", &[Role::Auditor]),
    Rule::query("VerifyAuditChain", &[Role::Auditor]),
];

const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;

/// The gRPC face of a service's audit log.
pub struct AuditApi {
    log: AuditLog,
}

impl AuditApi {
    pub fn new(log: AuditLog) -> AuditApi {
        AuditApi { log }
    }

    pub fn into_service(self) -> AuditServiceServer<AuditApi> {
        AuditServiceServer::new(self)
    }
}

fn storage_failure(err: crate::AuditError) -> Status {
    // The cause is logged, not sent: it may name tables or paths.
    tracing::error!(error = %err, "audit log read failed");
    Status::unavailable("the audit log cannot be read right now; retry later")
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        request: Request<ListAuditEntriesRequest>,
    ) -> Result<Response<ListAuditEntriesResponse>, Status> {
        let request = request.into_inner();
        if request.from_sequence < 0 {
            return Err(Status::invalid_argument("from_sequence must be 0 or more"));
        }
        let page = match i64::from(request.page_size) {
            0 => DEFAULT_PAGE,
            size if (1..=MAX_PAGE).contains(&size) => size,
            _ => {
                return Err(Status::invalid_argument(
                    "page_size must be between 1 and 1000 (0 for 100)",
                ));
            }
        };
        let from = request.from_sequence.max(1);
        let entries = self.log.list(from, page + 1).await.map_err(storage_failure)?;
        let next_sequence = if entries.len() as i64 > page {
            entries[page as usize].sequence
        } else {
            0
        };
        Ok(Response::new(ListAuditEntriesResponse {
            entries: entries.into_iter().take(page as usize).map(to_proto).collect(),
            next_sequence,
        }))
    }

    async fn verify_audit_chain(
        &self,
        _request: Request<VerifyAuditChainRequest>,
    ) -> Result<Response<VerifyAuditChainResponse>, Status> {
        let verdict = self.log.verify().await.map_err(storage_failure)?;
        Ok(Response::new(VerifyAuditChainResponse {
            intact: verdict.broken.is_none(),
            entries_checked: verdict.checked,
            first_broken_sequence: verdict.broken.as_ref().map_or(0, |broken| broken.sequence),
            problem: verdict
                .broken
                .map(|broken| broken.problem.to_owned())
                .unwrap_or_default(),
            head_hash: verdict.head_hash,
        }))
    }
}

fn to_proto(entry: Entry) -> AuditEntry {
    let record = entry.record;
    AuditEntry {
        sequence: entry.sequence,
        recorded_at: Some(prost_types::Timestamp {
            seconds: record.recorded_at.timestamp(),
            nanos: record.recorded_at.timestamp_subsec_nanos() as i32,
        }),
        subject: record.subject,
        roles: record.roles,
        scope: record.scope,
        service_area: record.service_area,
        method: record.method,
        request_id: record.request_id,
        trace_id: record.trace_id,
        outcome: record.outcome,
        previous_hash: entry.previous_hash,
        hash: entry.hash,
    }
}

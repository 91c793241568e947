//! The activities service's gRPC API: decodes requests, calls
//! [`Activities`], and turns its outcomes into responses and statuses.

pub(crate) mod convert;
pub(crate) mod parse;

use jigi_proto::activities::activities_service_server::{ActivitiesService, ActivitiesServiceServer};
use jigi_proto::activities::*;
use jigi_server::{CommandError, WireAnswer, parse_id, request_key};
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::app::Activities;

/// Largest request: a session or a day's attendance sheet of a few thousand people.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest response.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The gRPC face of the activities service.
pub struct ActivitiesApi {
    activities: Activities,
}

impl ActivitiesApi {
    pub fn new(activities: Activities) -> ActivitiesApi {
        ActivitiesApi { activities }
    }

    /// The tonic service, with message size limits.
    pub fn into_service(self) -> ActivitiesServiceServer<ActivitiesApi> {
        ActivitiesServiceServer::new(self)
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ActivitiesService for ActivitiesApi {
    async fn record_session(&self, request: Request<RecordSessionRequest>) -> Reply<RecordSessionResponse> {
        let mut request = request.into_inner();
        let request_id = std::mem::take(&mut request.request_id);
        let key = request_key("RecordSession", &request_id, &request.encode_to_vec())?;
        let session = parse::session(&self.activities.rules(), &request).map_err(CommandError::Invalid)?;
        let WireAnswer(response) = self
            .activities
            .record_session(key, session, |session| {
                WireAnswer(RecordSessionResponse {
                    session: Some(convert::session(session)),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_missed_households(
        &self,
        request: Request<ListMissedHouseholdsRequest>,
    ) -> Reply<ListMissedHouseholdsResponse> {
        let (commune, from, to) =
            parse::missed_period(&self.activities.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let missed = self.activities.missed_households(commune, from, to).await?;
        Ok(Response::new(ListMissedHouseholdsResponse {
            household_ids: missed.household_ids,
            sessions: missed.sessions,
        }))
    }

    async fn record_business_plan(
        &self,
        request: Request<RecordBusinessPlanRequest>,
    ) -> Reply<RecordBusinessPlanResponse> {
        let new = parse::business_plan(&self.activities.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let plan = self.activities.record_plan(new).await?;
        Ok(Response::new(RecordBusinessPlanResponse {
            plan: Some(convert::plan(&plan)),
        }))
    }

    async fn release_grant_tranche(
        &self,
        request: Request<ReleaseGrantTrancheRequest>,
    ) -> Reply<ReleaseGrantTrancheResponse> {
        let mut request = request.into_inner();
        let request_id = std::mem::take(&mut request.request_id);
        let key = request_key("ReleaseGrantTranche", &request_id, &request.encode_to_vec())?;
        let release = parse::tranche_release(&self.activities.rules(), &request).map_err(CommandError::Invalid)?;
        let WireAnswer(response) = self
            .activities
            .release_tranche(key, release, |plan, tranche| {
                WireAnswer(ReleaseGrantTrancheResponse {
                    tranche: Some(convert::tranche(tranche)),
                    plan: Some(convert::plan(plan)),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn record_follow_up_visit(
        &self,
        request: Request<RecordFollowUpVisitRequest>,
    ) -> Reply<RecordFollowUpVisitResponse> {
        let (household_id, visit) =
            parse::follow_up_visit(&self.activities.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let plan = self.activities.record_visit(household_id, visit).await?;
        Ok(Response::new(RecordFollowUpVisitResponse {
            plan: Some(convert::plan(&plan)),
        }))
    }

    async fn get_business_plan(&self, request: Request<GetBusinessPlanRequest>) -> Reply<GetBusinessPlanResponse> {
        let household_id = parse_id("household_id", &request.get_ref().household_id)?;
        let plan = self.activities.plan(household_id).await?;
        Ok(Response::new(GetBusinessPlanResponse {
            plan: Some(convert::plan(&plan)),
        }))
    }

    async fn plan_work_site(&self, request: Request<PlanWorkSiteRequest>) -> Reply<PlanWorkSiteResponse> {
        let site = parse::work_site(&self.activities.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let site = self.activities.plan_site(site).await?;
        Ok(Response::new(PlanWorkSiteResponse {
            site: Some(convert::site(&site)),
        }))
    }

    async fn validate_work_site(&self, request: Request<ValidateWorkSiteRequest>) -> Reply<ValidateWorkSiteResponse> {
        let r = request.get_ref();
        let (site_id, on) = parse::site_day(&self.activities.rules(), &r.site_id, &r.validated_on, "validated_on")
            .map_err(CommandError::Invalid)?;
        let site = self.activities.validate_site(site_id, on).await?;
        Ok(Response::new(ValidateWorkSiteResponse {
            site: Some(convert::site(&site)),
        }))
    }

    async fn start_work_site(&self, request: Request<StartWorkSiteRequest>) -> Reply<StartWorkSiteResponse> {
        let r = request.get_ref();
        let (site_id, on) = parse::site_day(&self.activities.rules(), &r.site_id, &r.started_on, "started_on")
            .map_err(CommandError::Invalid)?;
        let site = self.activities.start_site(site_id, on).await?;
        Ok(Response::new(StartWorkSiteResponse {
            site: Some(convert::site(&site)),
        }))
    }

    async fn close_work_site(&self, request: Request<CloseWorkSiteRequest>) -> Reply<CloseWorkSiteResponse> {
        let r = request.get_ref();
        let (site_id, on) = parse::site_day(&self.activities.rules(), &r.site_id, &r.closed_on, "closed_on")
            .map_err(CommandError::Invalid)?;
        let site = self.activities.close_site(site_id, on).await?;
        Ok(Response::new(CloseWorkSiteResponse {
            site: Some(convert::site(&site)),
        }))
    }

    async fn get_work_site(&self, request: Request<GetWorkSiteRequest>) -> Reply<GetWorkSiteResponse> {
        let site_id = parse::site_id(&request.get_ref().site_id).map_err(CommandError::Invalid)?;
        let site = self.activities.site(site_id).await?;
        Ok(Response::new(GetWorkSiteResponse {
            site: Some(convert::site(&site)),
        }))
    }

    async fn assign_worker(&self, request: Request<AssignWorkerRequest>) -> Reply<AssignWorkerResponse> {
        let assignment = parse::worker_assignment(request.get_ref()).map_err(CommandError::Invalid)?;
        let site = self.activities.assign_worker(assignment).await?;
        Ok(Response::new(AssignWorkerResponse {
            site: Some(convert::site(&site)),
        }))
    }

    async fn record_attendance(&self, request: Request<RecordAttendanceRequest>) -> Reply<RecordAttendanceResponse> {
        let mut request = request.into_inner();
        let request_id = std::mem::take(&mut request.request_id);
        let key = request_key("RecordAttendance", &request_id, &request.encode_to_vec())?;
        let sheet = parse::attendance_sheet(&self.activities.rules(), &request).map_err(CommandError::Invalid)?;
        let WireAnswer(response) = self
            .activities
            .record_attendance(key, sheet, |site, workers| {
                WireAnswer(RecordAttendanceResponse {
                    workers: workers as i64,
                    site: Some(convert::site(site)),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn close_wage_period(&self, request: Request<CloseWagePeriodRequest>) -> Reply<CloseWagePeriodResponse> {
        let (site_id, period) =
            parse::wage_period(&self.activities.rules(), request.get_ref()).map_err(CommandError::Invalid)?;
        let sheet = self.activities.close_wage_period(site_id, period).await?;
        Ok(Response::new(convert::wage_sheet(&sheet)))
    }
}

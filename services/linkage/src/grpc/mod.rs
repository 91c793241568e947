//! The index's gRPC API: checks that the caller's scope covers a
//! duplicate's region, calls [`Linkage`], and turns its outcomes into
//! responses and statuses.

pub mod convert;

use jigi_auth::Identity;
use jigi_common::Region;
use jigi_proto::linkage::linkage_service_server::{LinkageService, LinkageServiceServer};
use jigi_proto::linkage::*;
use jigi_server::{WireAnswer, access, request_key, status};
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::app::Linkage;
use crate::domain::{self, Duplicate as DomainDuplicate};
use crate::storage::ListFilter;

/// Largest request message: every request is a few fields.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Default page size.
const DEFAULT_PAGE: usize = 100;

/// The gRPC face of the index.
pub struct LinkageApi {
    linkage: Linkage,
}

impl LinkageApi {
    pub fn new(linkage: Linkage) -> LinkageApi {
        LinkageApi { linkage }
    }

    pub fn into_service(self) -> LinkageServiceServer<LinkageApi> {
        LinkageServiceServer::new(self).max_decoding_message_size(MAX_REQUEST_BYTES)
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn invalid(field: &str, description: impl Into<String>) -> Status {
    status::invalid_argument(&[status::FieldError::new(field, description.into())])
}

/// A regional caller may see and decide only about duplicates touching
/// one of their regions.
fn check_covers(caller: Option<&Identity>, duplicate: &DomainDuplicate) -> Result<(), Status> {
    match caller {
        Some(identity)
            if !identity.scope.covers(duplicate.first.region) && !identity.scope.covers(duplicate.second.region) =>
        {
            Err(Status::permission_denied(format!(
                "duplicate {} is between {} and {}; the caller may act in {} only",
                duplicate.duplicate_id,
                duplicate.first.region,
                duplicate.second.region,
                identity.scope.describe()
            )))
        }
        _ => Ok(()),
    }
}

#[tonic::async_trait]
impl LinkageService for LinkageApi {
    async fn list_duplicates(&self, request: Request<ListDuplicatesRequest>) -> Reply<ListDuplicatesResponse> {
        let caller = access::caller(&request).cloned();
        let r = request.into_inner();
        let regions = if r.region.is_empty() {
            // Every region the caller may see.
            match &caller {
                Some(identity) if !identity.scope.is_national() => Some(
                    Region::ALL
                        .into_iter()
                        .filter(|region| identity.scope.covers(*region))
                        .collect(),
                ),
                _ => None,
            }
        } else {
            let region: Region = r
                .region
                .parse()
                .map_err(|_| invalid("region", format!("{:?} is not a region slug", r.region)))?;
            access::check_area(caller.as_ref(), &r.region, "region")?;
            Some(vec![region])
        };
        if r.page_size < 0 {
            return Err(invalid("page_size", "must not be negative"));
        }
        let offset = if r.page_token.is_empty() {
            0
        } else {
            r.page_token
                .parse::<usize>()
                .map_err(|_| invalid("page_token", "is not a token this service gave"))?
        };
        let size = if r.page_size == 0 {
            DEFAULT_PAGE
        } else {
            r.page_size as usize
        };
        let filter = ListFilter {
            regions,
            open_only: r.open_only,
        };
        let page = self
            .linkage
            .list(filter, offset, size)
            .await
            .map_err(jigi_server::CommandError::from)?;
        Ok(Response::new(ListDuplicatesResponse {
            duplicates: page.duplicates.iter().map(convert::duplicate).collect(),
            next_page_token: page.next_offset.map(|o| o.to_string()).unwrap_or_default(),
        }))
    }

    async fn get_duplicate(&self, request: Request<GetDuplicateRequest>) -> Reply<GetDuplicateResponse> {
        let duplicate = self.linkage.get(&request.get_ref().duplicate_id).await?;
        check_covers(access::caller(&request), &duplicate)?;
        Ok(Response::new(GetDuplicateResponse {
            duplicate: Some(convert::duplicate(&duplicate)),
        }))
    }

    async fn resolve_duplicate(&self, request: Request<ResolveDuplicateRequest>) -> Reply<ResolveDuplicateResponse> {
        let caller = access::caller(&request).cloned();
        let r = request.into_inner();
        let content = ResolveDuplicateRequest {
            request_id: String::new(),
            ..r.clone()
        }
        .encode_to_vec();
        let key = request_key("ResolveDuplicate", &r.request_id, &content)?;
        let resolution = match jigi_proto::linkage::Resolution::try_from(r.resolution) {
            Ok(jigi_proto::linkage::Resolution::SamePerson) => domain::Resolution::SamePerson,
            Ok(jigi_proto::linkage::Resolution::Moved) => domain::Resolution::Moved,
            Ok(jigi_proto::linkage::Resolution::DifferentPeople) => domain::Resolution::DifferentPeople,
            _ => {
                return Err(invalid(
                    "resolution",
                    "must be RESOLUTION_SAME_PERSON, RESOLUTION_MOVED or RESOLUTION_DIFFERENT_PEOPLE",
                ));
            }
        };
        // The regions of a duplicate never change: checking them before
        // the command cannot be outrun.
        let found = self.linkage.get(&r.duplicate_id).await?;
        check_covers(caller.as_ref(), &found)?;
        let WireAnswer(duplicate) = self
            .linkage
            .resolve(key, &r.duplicate_id, resolution, &r.kept_household_id, |duplicate| {
                WireAnswer(convert::duplicate(duplicate))
            })
            .await?;
        tracing::info!(duplicate_id = %duplicate.duplicate_id, resolution = resolution.code(), "duplicate resolved");
        Ok(Response::new(ResolveDuplicateResponse {
            duplicate: Some(duplicate),
        }))
    }
}

//! What a refusal says, read from a gRPC status's details.

use tonic_types::StatusExt;

/// The `PreconditionFailure` type of a `FAILED_PRECONDITION` status.
pub fn precondition(status: &tonic::Status) -> String {
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    status
        .get_error_details()
        .precondition_failure()
        .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
        .unwrap_or_default()
}

/// The field names of an `INVALID_ARGUMENT` status's `BadRequest` detail.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

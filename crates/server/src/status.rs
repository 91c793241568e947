//! The statuses clients see. Each carries the standard rich error details
//! (`google.rpc.BadRequest`, `ResourceInfo`, `PreconditionFailure`) so a
//! program can tell which field or resource is at fault, and a message a
//! person can act on. Internal failures never show their cause: it is logged
//! with the trace ID, which the client gets instead.

pub use jigi_common::FieldError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// `INVALID_ARGUMENT` naming every offending field.
pub fn invalid_argument(errors: &[FieldError]) -> Status {
    let message = match errors {
        [] => "invalid request".to_owned(),
        [only] => format!("invalid {}: {}", only.field, only.description),
        [first, rest @ ..] => format!(
            "invalid {}: {} (and {} more invalid field{})",
            first.field,
            first.description,
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    };
    let violations: Vec<FieldViolation> = errors
        .iter()
        .map(|error| FieldViolation::new(error.field.clone(), error.description.clone()))
        .collect();
    Status::with_error_details(
        Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request(violations),
    )
}

/// `ALREADY_EXISTS`, naming the resource that already exists.
pub fn already_exists(resource_type: &str, resource_name: &str, message: impl Into<String>) -> Status {
    let message = message.into();
    Status::with_error_details(
        Code::AlreadyExists,
        message.clone(),
        ErrorDetails::with_resource_info(resource_type, resource_name, "", message),
    )
}

/// `NOT_FOUND`, naming the resource that was looked for.
pub fn not_found(resource_type: &str, resource_name: &str) -> Status {
    let message = format!("{resource_type} {resource_name} not found");
    Status::with_error_details(
        Code::NotFound,
        message.clone(),
        ErrorDetails::with_resource_info(resource_type, resource_name, "", message),
    )
}

/// `FAILED_PRECONDITION`: the request is valid but a rule forbids it now.
/// `kind` is a short machine-readable reason, e.g. `NOT_ELIGIBLE`.
pub fn failed_precondition(kind: &str, subject: &str, message: impl Into<String>) -> Status {
    let message = message.into();
    Status::with_error_details(
        Code::FailedPrecondition,
        message.clone(),
        ErrorDetails::with_precondition_failure_violation(kind, subject, message),
    )
}

/// `INTERNAL`: logs the cause and tells the client only how to find it.
pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Status {
    let trace_id = jigi_telemetry::current_trace_id().unwrap_or_else(|| "none".to_owned());
    tracing::error!(error = %cause, trace_id, "{context}");
    Status::internal(format!(
        "internal error while {context}; operators can find it by trace_id {trace_id}"
    ))
}

/// `UNAVAILABLE`: a dependency (database busy) may recover; retry later.
pub fn unavailable(context: &str, cause: &dyn std::fmt::Display) -> Status {
    tracing::warn!(error = %cause, "{context}");
    Status::unavailable(format!("temporarily unable to {context}; retry shortly"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_every_field() {
        let status = invalid_argument(&[
            FieldError::new("household.members[0].birth_date", "is in the future"),
            FieldError::new("household.location.commune", "is required"),
        ]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("household.members[0].birth_date"));
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            ["household.members[0].birth_date", "household.location.commune"]
        );
    }
}

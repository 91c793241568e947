//! The statuses clients see. Each carries the standard rich error details
//! (`google.rpc.BadRequest`, `ResourceInfo`, `PreconditionFailure`) so a
//! program can tell which field or resource is at fault, and a message a
//! person can act on. Internal failures never show their cause: it is logged
//! with the trace ID, which the client gets instead.

pub use jigi_common::FieldError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Longest text of one field error or resource name in a status: errors
/// travel in HTTP/2 headers, and a request can carry a 100 KB "name" that a
/// careless message would echo back until the client's header limit breaks
/// the connection.
const MAX_TEXT: usize = 300;
/// Most field violations detailed in one status; the message counts them all.
const MAX_VIOLATIONS: usize = 50;

/// `text`, cut at `max` bytes (on a character boundary) with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `INVALID_ARGUMENT` naming every offending field (the first fifty in the details).
pub fn invalid_argument(errors: &[FieldError]) -> Status {
    let errors: Vec<FieldError> = errors
        .iter()
        .map(|error| FieldError::new(clip(&error.field, MAX_TEXT), clip(&error.description, MAX_TEXT)))
        .collect();
    let message = match errors.as_slice() {
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
        .take(MAX_VIOLATIONS)
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
    let message = clip(&message.into(), MAX_TEXT);
    let resource_name = &clip(resource_name, MAX_TEXT);
    Status::with_error_details(
        Code::AlreadyExists,
        message.clone(),
        ErrorDetails::with_resource_info(resource_type, resource_name, "", message),
    )
}

/// `NOT_FOUND`, naming the resource that was looked for.
pub fn not_found(resource_type: &str, resource_name: &str) -> Status {
    let resource_name = &clip(resource_name, MAX_TEXT);
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
    let message = clip(&message.into(), MAX_TEXT);
    let subject = &clip(subject, MAX_TEXT);
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

/// The status of a storage failure. One that passes by itself (a full disk,
/// a database restarting) is `UNAVAILABLE` with a `google.rpc.RetryInfo`
/// saying when to retry: nothing was written, and the same request (same
/// request ID) can be sent again. Any other is `INTERNAL`.
pub fn storage(err: &jigi_storage::StorageError) -> Status {
    use jigi_storage::StorageError;
    let (message, retry_in) = match err {
        StorageError::Full(_) => (
            "the service's disk is full: nothing was written; retry the same request once space is freed",
            std::time::Duration::from_secs(10),
        ),
        StorageError::Busy(_) => (
            "the service's database is busy: nothing was written; retry the same request shortly",
            std::time::Duration::from_secs(1),
        ),
        StorageError::Unavailable(_) => (
            "the service's database is unavailable: nothing was written; retry the same request shortly",
            std::time::Duration::from_secs(2),
        ),
        other => return internal("accessing the database", other),
    };
    tracing::warn!(error = %err, kind = err.kind(), "storage unavailable; the client is told to retry");
    Status::with_error_details(
        Code::Unavailable,
        message,
        ErrorDetails::with_retry_info(Some(retry_in)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_input_is_clipped() {
        let huge = "é".repeat(50_000);
        let status = not_found("household", &huge);
        assert!(status.message().len() < 400, "{}", status.message().len());
        let errors: Vec<FieldError> = (0..500)
            .map(|i| FieldError::new(format!("members[{i}].name"), huge.clone()))
            .collect();
        let status = invalid_argument(&errors);
        assert!(status.message().contains("499 more"));
        assert_eq!(
            status.get_error_details().bad_request().unwrap().field_violations.len(),
            50
        );
        assert!(status.details().len() < 20_000);
    }

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

//! Reporting what is wrong with a request, field by field.

/// Longest code a region or an organisation may choose (site, warehouse…).
pub const MAX_CODE_CHARS: usize = 64;

/// A code chosen by a region or an organisation: 1 to [`MAX_CODE_CHARS`]
/// lower-case ASCII letters, digits, `-`, `_` or `.` — safe in a file name,
/// a URL and a CSV cell. `what` names it in the error ("a warehouse code").
pub fn code(text: &str, what: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("is required".into());
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.');
    if text.len() > MAX_CODE_CHARS || !text.bytes().all(allowed) {
        return Err(format!(
            "{text:?} is not {what}: 1 to {MAX_CODE_CHARS} lower-case ASCII letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(text.to_owned())
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `household.members[2].birth_date`.
    pub field: String,
    /// What is wrong, for a person.
    pub description: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Collects field errors while a request is checked, so the client learns
/// about every bad field at once, not one per attempt.
#[derive(Debug, Default)]
pub struct Problems {
    errors: Vec<FieldError>,
}

impl Problems {
    pub fn new() -> Problems {
        Problems::default()
    }

    /// Records that `field` is invalid.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.errors.push(FieldError::new(field, description));
    }

    /// Keeps `Ok` values and records `Err` descriptions against `field`.
    /// The error's text is the description (`IdError`, or a `String`).
    ///
    /// The field's name is written out only for an error: a path built
    /// with `format_args!("{path}.given_name")` costs nothing when the
    /// value is valid (a `format!` per field was a tenth of a household
    /// registration's time on the gRPC side).
    pub fn check<T, E: std::fmt::Display>(&mut self, field: impl std::fmt::Display, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.add(field.to_string(), description.to_string());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Number of problems recorded so far.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// `Ok(value)` when nothing was recorded, else every recorded error.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(value())
        } else {
            Err(self.errors)
        }
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_short_lower_case_ascii_and_named_in_its_error() {
        assert_eq!(code("sanando-1.b_2", "a site code"), Ok("sanando-1.b_2".to_owned()));
        assert_eq!(code("", "a site code"), Err("is required".to_owned()));
        for bad in ["Sanando", "san ando", "sanandó", "a/b", &"x".repeat(MAX_CODE_CHARS + 1)] {
            let err = code(bad, "a site code").unwrap_err();
            assert!(err.contains("is not a site code"), "{bad}: {err}");
        }
        assert!(code(&"x".repeat(MAX_CODE_CHARS), "a site code").is_ok());
    }
}

//! Reporting what is wrong with a request, field by field.

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
    pub fn check<T>(&mut self, field: impl Into<String>, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.add(field, description);
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

//! Configuration from the environment, with an optional file.
//!
//! Every setting has a key such as `grpc_addr`. Its value comes from the
//! environment variable `JIGI_GRPC_ADDR` when set, else from the TOML file
//! named by `JIGI_CONFIG` (key `grpc_addr`), else from the service's default.
//! Defaults run everything on one machine.

use std::path::PathBuf;
use std::str::FromStr;

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("setting {key} ({variable}) = {value:?} is invalid: {reason}")]
    Invalid {
        key: String,
        variable: String,
        value: String,
        reason: String,
    },
}

/// Where settings come from.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    file: toml::Table,
}

impl Settings {
    /// Reads `JIGI_CONFIG` if it is set.
    pub fn from_env() -> Result<Settings, ConfigError> {
        match std::env::var_os("JIGI_CONFIG") {
            Some(path) => Settings::from_file(PathBuf::from(path)),
            None => Ok(Settings::default()),
        }
    }

    pub fn from_file(path: PathBuf) -> Result<Settings, ConfigError> {
        let fail = |reason: String| ConfigError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(&path).map_err(|err| fail(err.to_string()))?;
        let file = text.parse::<toml::Table>().map_err(|err| fail(err.to_string()))?;
        Ok(Settings { file })
    }

    /// The raw value of a setting, if set anywhere.
    pub fn raw(&self, key: &str) -> Option<String> {
        if let Ok(value) = std::env::var(variable(key))
            && !value.is_empty()
        {
            return Some(value);
        }
        self.file.get(key).map(|value| match value {
            toml::Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }

    /// A setting parsed as `T`, or `default`.
    pub fn get<T>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.raw(key) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|err: T::Err| ConfigError::Invalid {
                key: key.to_owned(),
                variable: variable(key),
                value,
                reason: err.to_string(),
            }),
        }
    }

    /// An optional setting parsed as `T`.
    pub fn optional<T>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.raw(key) {
            None => Ok(None),
            Some(value) => value.parse().map(Some).map_err(|err: T::Err| ConfigError::Invalid {
                key: key.to_owned(),
                variable: variable(key),
                value,
                reason: err.to_string(),
            }),
        }
    }
}

/// `grpc_addr` → `JIGI_GRPC_ADDR`.
pub fn variable(key: &str) -> String {
    format!("JIGI_{}", key.to_ascii_uppercase())
}

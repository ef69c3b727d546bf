//! One time type, one format.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time: microseconds since the Unix epoch inside; RFC 3339 in UTC (`2026-01-02T03:04:05.123456Z`,
/// the fraction only when there is one) on the wire, in serde and in [`fmt::Display`]. This is the only way
/// Warden formats a time for people and programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A text that is not an RFC 3339 time (or one outside the range of microseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    text: String,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)", self.text)
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// The time `micros` microseconds after the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// Microseconds since the epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The same time without its fraction of a second (rounded toward the past).
    pub const fn whole_seconds(self) -> Self {
        Timestamp(self.0.div_euclid(1_000_000) * 1_000_000)
    }

    /// The calendar time (UTC), or `None` when it is outside what `time` represents.
    pub fn to_datetime(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000).ok()
    }

    /// A calendar time (any offset), or `None` when it is outside the range of microseconds since the epoch.
    pub fn from_datetime(t: OffsetDateTime) -> Option<Self> {
        i64::try_from(t.unix_timestamp_nanos().div_euclid(1000)).ok().map(Timestamp)
    }

    /// Parses an RFC 3339 time (any offset).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .and_then(Self::from_datetime)
            .ok_or_else(|| TimestampError { text: text.to_owned() })
    }
}

impl From<i64> for Timestamp {
    fn from(micros: i64) -> Self {
        Timestamp(micros)
    }
}

impl From<Timestamp> for i64 {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339, UTC; the bare number of microseconds for a time `time` cannot represent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime().and_then(|t| t.format(&Rfc3339).ok()) {
            Some(text) => f.write_str(&text),
            None => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .description(Some("RFC 3339 time, UTC."))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_rfc3339_utc() {
        let t = Timestamp::from_micros(1_767_225_600_000_000);
        assert_eq!(t.to_string(), "2026-01-01T00:00:00Z");
        assert_eq!(Timestamp::from_micros(1_767_225_600_250_000).to_string(), "2026-01-01T00:00:00.25Z");
        assert_eq!("2026-01-01T01:00:00+01:00".parse::<Timestamp>(), Ok(t));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-01-01T00:00:00Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>("\"2026-01-01T00:00:00Z\"").unwrap(), t);
        assert_eq!(Timestamp::from_micros(1_767_225_600_999_999).whole_seconds(), t);
        let err = "yesterday".parse::<Timestamp>().unwrap_err();
        assert_eq!(err.to_string(), "'yesterday' is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)");
    }
}

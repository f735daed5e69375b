//! Timestamps as microseconds since the Unix epoch, and Pulp's ISO-8601 rendering of them.

use chrono::{DateTime, SecondsFormat, Utc};

/// Microseconds since 1970-01-01T00:00:00Z. The one timestamp representation stored anywhere.
pub type Micros = i64;

/// The wall clock, in [`Micros`]. Pure state machines never call this: their callers pass `now` in.
pub fn now_micros() -> Micros {
    Utc::now().timestamp_micros()
}

/// Renders a timestamp the way Pulp does: `2026-11-25T05:10:04.803840Z`.
pub fn to_rfc3339(us: Micros) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an ISO-8601 timestamp as accepted by Pulp's filters (offset or `Z`, optional
/// fraction; a bare date means midnight UTC).
pub fn parse_rfc3339(s: &str) -> Option<Micros> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    // Python's `str(datetime)` (what the generated bindings send): a space, and an offset.
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%:z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.timestamp_micros());
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

/// Pulp's checkpoint timestamp (`CHECKPOINT_TS_FORMAT`): `20261125T051004Z`, in UTC, whole
/// seconds. It names a checkpoint under a checkpoint distribution's base path.
pub fn to_checkpoint(us: Micros) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// Parses a [`to_checkpoint`] timestamp exactly (eight digits, `T`, six digits, `Z`): the start
/// of that second.
pub fn parse_checkpoint(s: &str) -> Option<Micros> {
    let b = s.as_bytes();
    let shaped = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if !shaped {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_timestamps() {
        let us = 1_795_000_000_123_456;
        let s = to_checkpoint(us);
        assert_eq!(s.len(), 16);
        assert_eq!(parse_checkpoint(&s), Some(us - 123_456));
        for bad in [
            "2026112T051004Z",
            "20261125T051004",
            "20261325T051004Z",
            "2026-1125T051004Z",
            "+0261125T051004Z",
        ] {
            assert_eq!(parse_checkpoint(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_pulp_format() {
        let us = 1_795_000_000_123_456;
        let s = to_rfc3339(us);
        assert!(s.ends_with(".123456Z"), "{s}");
        assert_eq!(parse_rfc3339(&s), Some(us));
        assert_eq!(
            parse_rfc3339("2026-11-25"),
            parse_rfc3339("2026-11-25T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}

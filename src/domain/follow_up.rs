//! Follow-up visits (回访): a store's staff contacting a member, and when to contact them
//! next. A member is due at their home store from the `next_on` of their latest follow-up
//! until the next one is recorded.

use chrono::NaiveDate;

use super::ids::{MemberId, StoreId};
use super::ledger::Timestamp;

/// Longest follow-up note, in characters.
pub const FOLLOW_UP_NOTE_LEN_MAX: usize = 500;
/// Furthest a next follow-up may be planned, in days from today.
pub const FOLLOW_UP_AHEAD_DAYS_MAX: i64 = 366;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Phone,
    Wechat,
    Sms,
    Visit,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FollowUp {
    pub member: MemberId,
    /// From 1, per member.
    pub seq: u64,
    pub at: Timestamp,
    /// The store whose staff made it.
    pub store: StoreId,
    /// The credential that recorded it.
    pub credential: u64,
    pub channel: Channel,
    pub note: String,
    pub next_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FollowUpError {
    #[error("a follow-up note must be 1 to {FOLLOW_UP_NOTE_LEN_MAX} characters")]
    BadNote,
    #[error(
        "the next follow-up ({0}) must be from today to {FOLLOW_UP_AHEAD_DAYS_MAX} days ahead"
    )]
    BadNextOn(NaiveDate),
}

/// The note as kept (trimmed), if the note and the next date are acceptable on `today`.
pub fn check(
    note: &str,
    next_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<String, FollowUpError> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > FOLLOW_UP_NOTE_LEN_MAX {
        return Err(FollowUpError::BadNote);
    }
    if let Some(day) = next_on {
        let ahead = (day - today).num_days();
        if !(0..=FOLLOW_UP_AHEAD_DAYS_MAX).contains(&ahead) {
            return Err(FollowUpError::BadNextOn(day));
        }
    }
    Ok(note.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn notes_are_trimmed_and_bounded_and_next_dates_lie_ahead() {
        assert_eq!(check("  called ", None, day(2)), Ok("called".to_owned()));
        assert_eq!(check(" ", None, day(2)), Err(FollowUpError::BadNote));
        let long = "x".repeat(FOLLOW_UP_NOTE_LEN_MAX + 1);
        assert_eq!(check(&long, None, day(2)), Err(FollowUpError::BadNote));
        assert!(check("ok", Some(day(2)), day(2)).is_ok());
        assert_eq!(
            check("ok", Some(day(1)), day(2)),
            Err(FollowUpError::BadNextOn(day(1)))
        );
        let far = day(2) + chrono::Days::new(FOLLOW_UP_AHEAD_DAYS_MAX as u64 + 1);
        assert_eq!(
            check("ok", Some(far), day(2)),
            Err(FollowUpError::BadNextOn(far))
        );
    }
}

//! Members and stores as the domain sees them, and the profile a front desk edits.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

use super::member_fields::{FieldDef, FieldError, FieldValue};

use super::ids::{MemberId, Name, Phone, StoreId};
use super::ledger::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub phone: Phone,
    pub name: Name,
    pub created_at: Timestamp,
    pub profile: Profile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub id: StoreId,
    pub name: Name,
    /// IANA time zone name, validated at the edge with chrono-tz.
    pub time_zone: chrono_tz::Tz,
    pub created_at: Timestamp,
}

/// Longest note on a member, in characters.
pub const NOTES_LEN_MAX: usize = 500;
/// Most tags one member carries.
pub const TAGS_MAX: usize = 20;
/// Longest tag, in characters.
pub const TAG_LEN_MAX: usize = 32;
/// Earliest birthday year accepted: older is a typing mistake.
pub const BIRTH_YEAR_MIN: i32 = 1900;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
    Other,
}

/// A label a store puts on members (标签): trimmed, 1 to `TAG_LEN_MAX` characters, no
/// control characters and no NUL (it ends the tag in the search index).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

impl Tag {
    pub fn new(raw: &str) -> Result<Tag, ProfileError> {
        let t = raw.trim();
        let ok =
            !t.is_empty() && t.chars().count() <= TAG_LEN_MAX && !t.chars().any(char::is_control);
        if !ok {
            return Err(ProfileError::BadTag(
                raw.chars().take(TAG_LEN_MAX).collect(),
            ));
        }
        Ok(Tag(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a member's profile holds besides phone and name. Empty until a desk edits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub notes: String,
    pub tags: BTreeSet<Tag>,
    /// Values of the chain's member fields, by field id.
    pub fields: std::collections::BTreeMap<u16, FieldValue>,
}

impl Profile {
    pub fn is_empty(&self) -> bool {
        *self == Profile::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("tag {0:?} must be 1 to {TAG_LEN_MAX} characters without control characters")]
    BadTag(String),
    #[error("a member carries at most {TAGS_MAX} tags")]
    TooManyTags,
    #[error("notes must be at most {NOTES_LEN_MAX} characters")]
    NotesTooLong,
    #[error("birthday {0} is not between {BIRTH_YEAR_MIN}-01-01 and today")]
    BadBirthday(NaiveDate),
    #[error("the edit changes nothing")]
    Empty,
    #[error("{0}")]
    Field(#[from] FieldError),
}

/// A change to a member: each field present replaces what is there; `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberEdit {
    pub phone: Option<Phone>,
    pub name: Option<Name>,
    pub gender: Option<Option<Gender>>,
    pub birthday: Option<Option<NaiveDate>>,
    pub notes: Option<String>,
    /// Replaces the whole set.
    pub tags: Option<Vec<Tag>>,
    pub add_tags: Vec<Tag>,
    pub remove_tags: Vec<Tag>,
    /// Member-field values by field id; `None` clears.
    pub fields: std::collections::BTreeMap<u16, Option<FieldValue>>,
}

impl MemberEdit {
    /// Checks what needs no state: an edit that names nothing is refused.
    pub fn check(&self, today: NaiveDate) -> Result<(), ProfileError> {
        let names_nothing = self.phone.is_none()
            && self.name.is_none()
            && self.gender.is_none()
            && self.birthday.is_none()
            && self.notes.is_none()
            && self.tags.is_none()
            && self.add_tags.is_empty()
            && self.remove_tags.is_empty()
            && self.fields.is_empty();
        if names_nothing {
            return Err(ProfileError::Empty);
        }
        if let Some(notes) = &self.notes {
            if notes.chars().count() > NOTES_LEN_MAX {
                return Err(ProfileError::NotesTooLong);
            }
        }
        if let Some(Some(day)) = self.birthday {
            if day.year() < BIRTH_YEAR_MIN || day > today {
                return Err(ProfileError::BadBirthday(day));
            }
        }
        Ok(())
    }

    /// The member after this edit, its field values checked against the chain's `fields`.
    /// Tags: the replacement set first, then additions, then removals.
    pub fn apply(
        &self,
        m: &Member,
        today: NaiveDate,
        fields: &std::collections::BTreeMap<u16, FieldDef>,
    ) -> Result<Member, ProfileError> {
        self.check(today)?;
        let mut out = m.clone();
        if let Some(phone) = &self.phone {
            out.phone = phone.clone();
        }
        if let Some(name) = &self.name {
            out.name = name.clone();
        }
        if let Some(g) = self.gender {
            out.profile.gender = g;
        }
        if let Some(b) = self.birthday {
            out.profile.birthday = b;
        }
        if let Some(notes) = &self.notes {
            out.profile.notes = notes.trim().to_owned();
        }
        if let Some(tags) = &self.tags {
            out.profile.tags = tags.iter().cloned().collect();
        }
        out.profile.tags.extend(self.add_tags.iter().cloned());
        for t in &self.remove_tags {
            out.profile.tags.remove(t);
        }
        if out.profile.tags.len() > TAGS_MAX {
            return Err(ProfileError::TooManyTags);
        }
        out.profile.fields = super::member_fields::apply(fields, &m.profile.fields, &self.fields)?;
        Ok(out)
    }
}

/// The key a name is searched by: lower case, so a prefix matches either case.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member() -> Member {
        Member {
            id: MemberId::new(StoreId::new(1).unwrap(), 1),
            phone: Phone::new("13800000001").unwrap(),
            name: Name::new("Li Lei", "member name").unwrap(),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            profile: Profile::default(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    fn tag(s: &str) -> Tag {
        Tag::new(s).unwrap()
    }

    #[test]
    fn an_edit_naming_nothing_is_refused() {
        assert_eq!(
            MemberEdit::default().apply(&member(), today(), &Default::default()),
            Err(ProfileError::Empty)
        );
    }

    #[test]
    fn birthdays_in_the_future_or_before_1900_are_refused() {
        for day in [(2026, 3, 3), (1899, 12, 31)] {
            let day = NaiveDate::from_ymd_opt(day.0, day.1, day.2).unwrap();
            let edit = MemberEdit {
                birthday: Some(Some(day)),
                ..MemberEdit::default()
            };
            assert_eq!(
                edit.apply(&member(), today(), &Default::default()),
                Err(ProfileError::BadBirthday(day))
            );
        }
    }

    #[test]
    fn tags_are_trimmed_bounded_and_a_set() {
        assert_eq!(tag("  vip "), tag("vip"));
        assert!(Tag::new("").is_err());
        assert!(Tag::new("a\u{0}b").is_err());
        assert!(Tag::new(&"x".repeat(TAG_LEN_MAX + 1)).is_err());
        let edit = MemberEdit {
            tags: Some(vec![tag("vip"), tag("vip"), tag("new")]),
            remove_tags: vec![tag("new")],
            add_tags: vec![tag("yoga")],
            ..MemberEdit::default()
        };
        let m = edit.apply(&member(), today(), &Default::default()).unwrap();
        let tags: Vec<&str> = m.profile.tags.iter().map(Tag::as_str).collect();
        assert_eq!(tags, ["vip", "yoga"]);
        let many = MemberEdit {
            add_tags: (0..=TAGS_MAX).map(|i| tag(&format!("t{i}"))).collect(),
            ..MemberEdit::default()
        };
        assert_eq!(
            many.apply(&member(), today(), &Default::default()),
            Err(ProfileError::TooManyTags)
        );
    }

    proptest! {
        /// Applying an edit twice is applying it once, and fields it doesn't name stay.
        #[test]
        fn edits_are_idempotent_and_leave_other_fields(
            notes in proptest::option::of("[a-z ]{0,20}"),
            add in proptest::collection::vec("[a-c]", 0..4),
            remove in proptest::collection::vec("[a-c]", 0..4),
            clear_gender in any::<bool>(),
        ) {
            let mut base = member();
            base.profile.gender = Some(Gender::Female);
            base.profile.tags.insert(tag("b"));
            let edit = MemberEdit {
                notes,
                add_tags: add.iter().map(|s| tag(s)).collect(),
                remove_tags: remove.iter().map(|s| tag(s)).collect(),
                gender: clear_gender.then_some(None),
                ..MemberEdit::default()
            };
            match edit.apply(&base, today(), &Default::default()) {
                Err(ProfileError::Empty) => prop_assert!(edit.check(today()).is_err()),
                Err(e) => prop_assert!(false, "{e}"),
                Ok(once) => {
                    prop_assert_eq!(edit.apply(&once, today(), &Default::default()).unwrap(), once.clone());
                    prop_assert_eq!(&once.phone, &base.phone);
                    prop_assert_eq!(&once.name, &base.name);
                    prop_assert_eq!(once.profile.gender.is_none(), clear_gender);
                    for r in &remove {
                        prop_assert!(!once.profile.tags.contains(&tag(r)));
                    }
                }
            }
        }
    }
}

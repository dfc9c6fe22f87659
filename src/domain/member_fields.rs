//! Member fields the chain defines (会员自定义字段): a name, a type, whether a member must
//! have a value, and a default. Values are checked against their field on every write of a
//! member's profile.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Most fields a chain defines; ids are 1 to this.
pub const MEMBER_FIELDS_MAX: u16 = 20;
/// Longest text value of any text field, in characters.
pub const FIELD_TEXT_LEN_MAX: u16 = 500;
/// Most choices of a choice field.
pub const FIELD_CHOICES_MAX: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Up to `max_length` characters.
    Text {
        max_length: u16,
    },
    /// A whole number, within the bounds given.
    Number {
        min: Option<i64>,
        max: Option<i64>,
    },
    Date,
    /// One of `choices`.
    Choice {
        choices: Vec<String>,
    },
}

/// A value of a member field: text, choices and dates (`YYYY-MM-DD`) are texts. Tagged, so
/// the stored form needs no guessing (the API reads and writes it as a bare JSON value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldValue {
    Number(i64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldDef {
    pub id: u16,
    /// Checked as a `Name` when HQ saves it.
    pub name: String,
    pub kind: FieldKind,
    pub required: bool,
    pub default: Option<FieldValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("member field ids are 1 to {MEMBER_FIELDS_MAX}")]
    BadId,
    #[error("field {0}: {1}")]
    Definition(u16, &'static str),
    #[error("no member field {0}")]
    Unknown(u16),
    #[error("field {id} ({name}): {why}")]
    BadValue {
        id: u16,
        name: String,
        why: &'static str,
    },
    #[error("field {id} ({name}) is required")]
    Missing { id: u16, name: String },
}

impl FieldDef {
    /// A definition HQ may save: bounds that make sense, and a default its own rules admit.
    pub fn check(&self) -> Result<(), FieldError> {
        if !(1..=MEMBER_FIELDS_MAX).contains(&self.id) {
            return Err(FieldError::BadId);
        }
        let bad = |why| Err(FieldError::Definition(self.id, why));
        match &self.kind {
            FieldKind::Text { max_length } if !(1..=FIELD_TEXT_LEN_MAX).contains(max_length) => {
                return bad("max_length must be 1 to 500");
            }
            FieldKind::Number {
                min: Some(lo),
                max: Some(hi),
            } if lo > hi => return bad("min is above max"),
            FieldKind::Choice { choices }
                if choices.is_empty()
                    || choices.len() > FIELD_CHOICES_MAX
                    || choices
                        .iter()
                        .any(|c| c.trim().is_empty() || c.chars().count() > 64) =>
            {
                return bad("choices must be 1 to 50 texts of 1 to 64 characters");
            }
            _ => {}
        }
        if let Some(v) = &self.default {
            self.value(v)?;
        }
        Ok(())
    }

    /// `v` as this field keeps it, or why not.
    pub fn value(&self, v: &FieldValue) -> Result<FieldValue, FieldError> {
        let bad = |why| FieldError::BadValue {
            id: self.id,
            name: self.name.clone(),
            why,
        };
        match (&self.kind, v) {
            (FieldKind::Text { max_length }, FieldValue::Text(t)) => {
                let t = t.trim();
                if t.chars().count() > usize::from(*max_length) || t.chars().any(char::is_control) {
                    return Err(bad("text too long or with control characters"));
                }
                Ok(FieldValue::Text(t.to_owned()))
            }
            (FieldKind::Number { min, max }, FieldValue::Number(n)) => {
                if min.is_some_and(|lo| *n < lo) || max.is_some_and(|hi| *n > hi) {
                    return Err(bad("number out of bounds"));
                }
                Ok(v.clone())
            }
            (FieldKind::Date, FieldValue::Text(t)) => t
                .parse::<NaiveDate>()
                .map(|d| FieldValue::Text(d.to_string()))
                .map_err(|_| bad("a date is YYYY-MM-DD")),
            (FieldKind::Choice { choices }, FieldValue::Text(t)) if choices.contains(t) => {
                Ok(v.clone())
            }
            (FieldKind::Choice { .. }, _) => Err(bad("not one of the choices")),
            (FieldKind::Number { .. }, _) => Err(bad("a whole number is needed")),
            _ => Err(bad("a text is needed")),
        }
    }
}

/// The values a new member starts with: each field's default.
pub fn defaults(defs: &BTreeMap<u16, FieldDef>) -> BTreeMap<u16, FieldValue> {
    defs.values()
        .filter_map(|d| Some((d.id, d.default.clone()?)))
        .collect()
}

/// A member's values after `changes` (`None` clears), checked against `defs`: unknown
/// fields and bad values are refused, defaults fill what is missing, and every required
/// field ends with a value.
pub fn apply(
    defs: &BTreeMap<u16, FieldDef>,
    current: &BTreeMap<u16, FieldValue>,
    changes: &BTreeMap<u16, Option<FieldValue>>,
) -> Result<BTreeMap<u16, FieldValue>, FieldError> {
    let mut out: BTreeMap<u16, FieldValue> = current
        .iter()
        .filter(|(id, _)| defs.contains_key(id))
        .map(|(id, v)| (*id, v.clone()))
        .collect();
    for (id, change) in changes {
        let def = defs.get(id).ok_or(FieldError::Unknown(*id))?;
        match change {
            Some(v) => {
                out.insert(*id, def.value(v)?);
            }
            None => {
                out.remove(id);
            }
        }
    }
    for def in defs.values() {
        if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(def.id) {
            if let Some(d) = &def.default {
                slot.insert(d.clone());
            } else if def.required {
                return Err(FieldError::Missing {
                    id: def.id,
                    name: def.name.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn def(id: u16, kind: FieldKind, required: bool, default: Option<FieldValue>) -> FieldDef {
        FieldDef {
            id,
            name: format!("f{id}"),
            kind,
            required,
            default,
        }
    }

    fn defs() -> BTreeMap<u16, FieldDef> {
        [
            def(1, FieldKind::Text { max_length: 5 }, false, None),
            def(
                2,
                FieldKind::Number {
                    min: Some(0),
                    max: Some(10),
                },
                true,
                None,
            ),
            def(3, FieldKind::Date, false, None),
            def(
                4,
                FieldKind::Choice {
                    choices: vec!["a".into(), "b".into()],
                },
                true,
                Some(FieldValue::Text("a".into())),
            ),
        ]
        .into_iter()
        .map(|d| (d.id, d))
        .collect()
    }

    #[test]
    fn values_are_checked_against_their_field_and_required_ones_kept() {
        let d = defs();
        let none = BTreeMap::new();
        // Field 2 is required without a default.
        assert_eq!(
            apply(&d, &none, &BTreeMap::new()),
            Err(FieldError::Missing {
                id: 2,
                name: "f2".into()
            })
        );
        let ok = apply(
            &d,
            &none,
            &[
                (2, Some(FieldValue::Number(3))),
                (3, Some(FieldValue::Text("2026-03-02".into()))),
            ]
            .into_iter()
            .collect(),
        )
        .unwrap();
        assert_eq!(
            ok.get(&4),
            Some(&FieldValue::Text("a".into())),
            "the default"
        );
        for (id, v) in [
            (1, FieldValue::Text("toolong".into())),
            (2, FieldValue::Number(11)),
            (2, FieldValue::Text("3".into())),
            (3, FieldValue::Text("03/02/2026".into())),
            (4, FieldValue::Text("c".into())),
        ] {
            let changes = [(id, Some(v))].into_iter().collect();
            assert!(
                matches!(apply(&d, &ok, &changes), Err(FieldError::BadValue { .. })),
                "{id}"
            );
        }
        let unknown = [(9, Some(FieldValue::Number(1)))].into_iter().collect();
        assert_eq!(apply(&d, &ok, &unknown), Err(FieldError::Unknown(9)));
        let clear = [(2, None)].into_iter().collect();
        assert!(matches!(
            apply(&d, &ok, &clear),
            Err(FieldError::Missing { .. })
        ));
    }

    #[test]
    fn definitions_must_make_sense() {
        assert!(def(0, FieldKind::Date, false, None).check().is_err());
        assert!(def(1, FieldKind::Text { max_length: 0 }, false, None)
            .check()
            .is_err());
        let upside_down = FieldKind::Number {
            min: Some(5),
            max: Some(1),
        };
        assert!(def(1, upside_down, false, None).check().is_err());
        let empty = FieldKind::Choice { choices: vec![] };
        assert!(def(1, empty, false, None).check().is_err());
        let bad_default = Some(FieldValue::Text("x".into()));
        assert!(def(1, FieldKind::Date, false, bad_default).check().is_err());
    }

    proptest! {
        /// Whatever is asked, an accepted result has only defined fields, every value valid
        /// for its field, and every required field.
        #[test]
        fn accepted_values_are_always_valid(
            changes in proptest::collection::btree_map(
                1u16..6,
                proptest::option::of(prop_oneof![
                    (-3i64..14).prop_map(FieldValue::Number),
                    "[a-c]{0,7}".prop_map(FieldValue::Text),
                ]),
                0..5,
            )
        ) {
            let d = defs();
            if let Ok(out) = apply(&d, &BTreeMap::new(), &changes) {
                for (id, v) in &out {
                    let def = &d[id];
                    let again = def.value(v);
                    prop_assert_eq!(again.as_ref(), Ok(v));
                }
                for def in d.values().filter(|d| d.required) {
                    prop_assert!(out.contains_key(&def.id));
                }
            }
        }
    }
}

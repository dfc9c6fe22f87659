//! Members brought from another system (会员导入), and taken out the same way (导出): the
//! columns of the file, each row checked on its own, and what a row becomes (a member and
//! the opening operation that gives them their holdings).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::booking::ServiceId;
use super::counter::CounterOp;
use super::ids::{Name, Phone};
use super::levels::LevelId;
use super::member::{Gender, Member, MemberEdit, Tag};
use super::member_fields::{FieldDef, FieldKind, FieldValue, MEMBER_FIELDS_MAX};
use super::money::{Amount, Money};

/// Rows of one import request; a bigger file is sent in parts (`first_row`).
pub const IMPORT_ROWS_MAX: usize = 1000;
/// Count cards one row may bring.
pub const IMPORT_CARDS_MAX: usize = 20;

/// Every column a file may have, in the order an export writes them, then one
/// `field_<id>` column per member field (会员自定义字段). `phone` and `name` are required;
/// the others default to nothing.
pub const COLUMNS: [&str; 11] = [
    "phone",
    "name",
    "balance",
    "bonus",
    "points",
    "level_id",
    "count_cards",
    "gender",
    "birthday",
    "notes",
    "tags",
];

/// A member field's column: `field_<id>`.
pub fn field_column(id: u16) -> String {
    format!("field_{id}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("unknown column {0:?}; columns are phone, name, balance, bonus, points, level_id, count_cards, gender, birthday, notes, tags and field_<member field id>")]
    UnknownColumn(String),
    #[error("column {0} appears twice")]
    DuplicateColumn(String),
    #[error("the header needs the columns phone and name")]
    MissingColumn,
    #[error("at most {IMPORT_ROWS_MAX} rows in one request")]
    TooManyRows,
}

/// Where each column is in the file, and each member field's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    at: [Option<usize>; COLUMNS.len()],
    fields: BTreeMap<u16, usize>,
}

impl Header {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Header, ImportError> {
        let mut at = [None; COLUMNS.len()];
        let mut fields = BTreeMap::new();
        for (i, raw) in names.into_iter().enumerate() {
            let name = raw.trim().trim_start_matches('\u{feff}');
            let unknown = || ImportError::UnknownColumn(name.chars().take(40).collect());
            let taken = match COLUMNS.iter().position(|c| *c == name) {
                Some(c) => at[c].replace(i).is_some(),
                None => {
                    let id = name
                        .strip_prefix("field_")
                        .and_then(|n| n.parse::<u16>().ok())
                        .filter(|id| (1..=MEMBER_FIELDS_MAX).contains(id))
                        .ok_or_else(unknown)?;
                    fields.insert(id, i).is_some()
                }
            };
            if taken {
                return Err(ImportError::DuplicateColumn(name.to_owned()));
            }
        }
        if at[0].is_none() || at[1].is_none() {
            return Err(ImportError::MissingColumn);
        }
        Ok(Header { at, fields })
    }

    fn get<'a>(&self, fields: &[&'a str], column: usize) -> &'a str {
        self.at[column]
            .and_then(|i| fields.get(i))
            .map_or("", |f| f.trim())
    }

    /// The member fields the file has columns for.
    pub fn field_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.fields.keys().copied()
    }
}

/// One row, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub phone: Phone,
    pub name: Name,
    pub balance: Option<Amount>,
    pub bonus: Money,
    pub points: i64,
    pub level: Option<LevelId>,
    pub cards: Vec<(ServiceId, u32, Option<NaiveDate>)>,
    /// Gender, birthday, notes, tags and member fields, set after registration; none when
    /// the row names none of them.
    pub profile: Option<MemberEdit>,
}

fn number<T: std::str::FromStr>(raw: &str, what: &str) -> Result<Option<T>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| format!("{what} {raw:.20} is not a whole number in range"))
}

fn gender(raw: &str) -> Result<Option<Gender>, String> {
    Ok(Some(match raw {
        "" => return Ok(None),
        "female" | "f" | "女" => Gender::Female,
        "male" | "m" | "男" => Gender::Male,
        "other" => Gender::Other,
        _ => return Err(format!("gender {raw:.20}: female, male or other")),
    }))
}

fn gender_name(g: Gender) -> &'static str {
    match g {
        Gender::Female => "female",
        Gender::Male => "male",
        Gender::Other => "other",
    }
}

/// The profile columns of a row as an edit; the member fields' texts read by their kind
/// (`defs`; a column for a field HQ has not defined is refused).
fn profile(
    h: &Header,
    fields: &[&str],
    defs: &BTreeMap<u16, FieldDef>,
) -> Result<Option<MemberEdit>, String> {
    let mut edit = MemberEdit {
        gender: gender(h.get(fields, 7))?.map(Some),
        ..MemberEdit::default()
    };
    let birthday = h.get(fields, 8);
    if !birthday.is_empty() {
        let day = NaiveDate::parse_from_str(birthday, "%Y-%m-%d")
            .map_err(|_| format!("birthday {birthday:.20}: YYYY-MM-DD"))?;
        edit.birthday = Some(Some(day));
    }
    let notes = h.get(fields, 9);
    if !notes.is_empty() {
        edit.notes = Some(notes.to_owned());
    }
    let tags = h
        .get(fields, 10)
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Tag::new(t).map_err(|e| format!("tags: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if !tags.is_empty() {
        edit.tags = Some(tags);
    }
    for (&id, &i) in &h.fields {
        let raw = fields.get(i).map_or("", |f| f.trim());
        if raw.is_empty() {
            continue;
        }
        let def = defs
            .get(&id)
            .ok_or_else(|| format!("no member field {id}"))?;
        let value =
            match def.kind {
                FieldKind::Number { .. } => FieldValue::Number(raw.parse().map_err(|_| {
                    format!("{}: {raw:.20} is not a whole number", field_column(id))
                })?),
                _ => FieldValue::Text(raw.to_owned()),
            };
        let value = def.value(&value).map_err(|e| e.to_string())?;
        edit.fields.insert(id, Some(value));
    }
    let empty = edit.gender.is_none()
        && edit.birthday.is_none()
        && edit.notes.is_none()
        && edit.tags.is_none()
        && edit.fields.is_empty();
    Ok((!empty).then_some(edit))
}

impl ImportRow {
    /// The row's fields checked: a refusal names the column and why. `defs` are the member
    /// fields HQ defined.
    pub fn parse(
        h: &Header,
        fields: &[&str],
        defs: &BTreeMap<u16, FieldDef>,
    ) -> Result<ImportRow, String> {
        let phone = Phone::new(h.get(fields, 0)).map_err(|e| format!("phone: {e}"))?;
        let name = Name::new(h.get(fields, 1), "member name").map_err(|e| format!("name: {e}"))?;
        let balance: i64 = number(h.get(fields, 2), "balance")?.unwrap_or(0);
        let bonus: i64 = number(h.get(fields, 3), "bonus")?.unwrap_or(0);
        if balance < 0 || bonus < 0 || bonus > balance {
            return Err("balance and bonus are minor units, 0 <= bonus <= balance".into());
        }
        let balance = match balance {
            0 => None,
            b => Some(Amount::new(b).map_err(|e| format!("balance: {e}"))?),
        };
        let points: i64 = number(h.get(fields, 4), "points")?.unwrap_or(0);
        if !(0..=super::membership::POINTS_MAX).contains(&points) {
            return Err("points are 0 or more, in range".into());
        }
        let level = number::<u16>(h.get(fields, 5), "level_id")?.map(LevelId);
        let mut cards = Vec::new();
        for card in h
            .get(fields, 6)
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let parts: Vec<&str> = card.split(':').map(str::trim).collect();
            let bad = || format!("count card {card:.40}: service_id:sessions[:YYYY-MM-DD]");
            let (service, sessions, expires) = match parts.as_slice() {
                [s, n] => (*s, *n, None),
                [s, n, d] => (*s, *n, Some(*d)),
                _ => return Err(bad()),
            };
            let service: u64 = service.parse().map_err(|_| bad())?;
            let sessions: u32 = sessions.parse().map_err(|_| bad())?;
            if sessions == 0 {
                return Err(bad());
            }
            let expires = expires
                .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| bad()))
                .transpose()?;
            cards.push((ServiceId(service), sessions, expires));
        }
        if cards.len() > IMPORT_CARDS_MAX {
            return Err(format!("at most {IMPORT_CARDS_MAX} count cards a row"));
        }
        Ok(ImportRow {
            profile: profile(h, fields, defs)?,
            phone,
            name,
            balance,
            bonus: Money::from_minor(bonus),
            points,
            level,
            cards,
        })
    }

    /// The opening operation, if the row brings anything but the member.
    pub fn opening(&self) -> Option<CounterOp> {
        let empty = self.balance.is_none()
            && self.points == 0
            && self.cards.is_empty()
            && self.level.is_none_or(|l| l == LevelId(0));
        (!empty).then(|| CounterOp::Opening {
            balance: self.balance,
            bonus: self.bonus,
            points: self.points,
            cards: self.cards.clone(),
            level: self.level,
        })
    }
}

/// One exported row: `COLUMNS`, then the member fields `field_ids` name.
pub fn export_row(
    member: &Member,
    account: &super::ledger::Account,
    field_ids: &[u16],
) -> Vec<String> {
    let m = &account.membership;
    let p = &member.profile;
    let cards: Vec<String> = m
        .count_cards
        .iter()
        .filter(|c| c.remaining > 0)
        .map(|c| match c.expires_on {
            Some(d) => format!("{}:{}:{d}", c.service.0, c.remaining),
            None => format!("{}:{}", c.service.0, c.remaining),
        })
        .collect();
    let tags: Vec<&str> = p.tags.iter().map(Tag::as_str).collect();
    let mut row = vec![
        member.phone.as_str().to_owned(),
        member.name.as_str().to_owned(),
        account.balance.minor().to_string(),
        account.bonus.minor().to_string(),
        m.points.to_string(),
        m.level.0.to_string(),
        cards.join(";"),
        p.gender.map(gender_name).unwrap_or_default().to_owned(),
        p.birthday.map(|d| d.to_string()).unwrap_or_default(),
        p.notes.clone(),
        tags.join(";"),
    ];
    row.extend(field_ids.iter().map(|id| match p.fields.get(id) {
        Some(FieldValue::Number(n)) => n.to_string(),
        Some(FieldValue::Text(t)) => t.clone(),
        None => String::new(),
    }));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Header {
        Header::new(cols.iter().copied()).unwrap()
    }

    #[test]
    fn a_header_names_known_columns_once_with_phone_and_name() {
        assert!(Header::new(["\u{feff}phone", "name"]).is_ok());
        assert_eq!(Header::new(["phone"]), Err(ImportError::MissingColumn));
        assert!(matches!(
            Header::new(["phone", "name", "email"]),
            Err(ImportError::UnknownColumn(_))
        ));
        assert!(matches!(
            Header::new(["phone", "name", "phone"]),
            Err(ImportError::DuplicateColumn(_))
        ));
    }

    #[test]
    fn rows_are_checked_column_by_column() {
        let h = header(&[
            "name",
            "phone",
            "balance",
            "bonus",
            "points",
            "count_cards",
            "level_id",
        ]);
        let none = BTreeMap::new();
        let r = ImportRow::parse(
            &h,
            &[
                "王芳",
                "138 0000 0001",
                "50000",
                "5000",
                "120",
                "3:10;4:2:2026-12-31",
                "1",
            ],
            &none,
        )
        .unwrap();
        assert_eq!(r.balance.unwrap().minor(), 50_000);
        assert_eq!(r.bonus.minor(), 5_000);
        assert_eq!(r.cards.len(), 2);
        assert_eq!(r.cards[1].2, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert!(r.opening().is_some());
        let bare = ImportRow::parse(&h, &["A", "13800000002", "", "", "", "", ""], &none).unwrap();
        assert_eq!(bare.opening(), None);
        for bad in [
            ["", "13800000002", "", "", "", "", ""],
            ["A", "12", "", "", "", "", ""],
            ["A", "13800000002", "-1", "", "", "", ""],
            ["A", "13800000002", "100", "200", "", "", ""],
            ["A", "13800000002", "1.5", "", "", "", ""],
            ["A", "13800000002", "", "", "-3", "", ""],
            ["A", "13800000002", "", "", "", "3", ""],
            ["A", "13800000002", "", "", "", "3:0", ""],
            ["A", "13800000002", "", "", "", "3:1:31/12/2026", ""],
            ["A", "13800000002", "", "", "", "", "x"],
        ] {
            assert!(ImportRow::parse(&h, &bad, &none).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn profile_columns_become_an_edit_read_by_each_fields_kind() {
        use crate::domain::member_fields::{FieldDef, FieldKind};
        let defs: BTreeMap<u16, FieldDef> = [
            (
                1,
                FieldKind::Number {
                    min: Some(0),
                    max: Some(300),
                },
            ),
            (
                2,
                FieldKind::Choice {
                    choices: vec!["dry".into(), "oily".into()],
                },
            ),
        ]
        .into_iter()
        .map(|(id, kind)| {
            let def = FieldDef {
                id,
                name: format!("f{id}"),
                kind,
                required: false,
                default: None,
            };
            (id, def)
        })
        .collect();
        let h = header(&[
            "phone", "name", "gender", "birthday", "tags", "notes", "field_1", "field_2",
        ]);
        let row = |f: [&str; 8]| ImportRow::parse(&h, &f, &defs);
        let r = row([
            "13800000001",
            "A",
            "女",
            "1990-05-01",
            "vip; new",
            "likes tea",
            "165",
            "dry",
        ])
        .unwrap();
        let p = r.profile.unwrap();
        assert_eq!(p.gender, Some(Some(Gender::Female)));
        assert_eq!(p.birthday, Some(NaiveDate::from_ymd_opt(1990, 5, 1)));
        assert_eq!(p.tags.map(|t| t.len()), Some(2));
        assert_eq!(p.fields.get(&1), Some(&Some(FieldValue::Number(165))));
        assert_eq!(
            p.fields.get(&2),
            Some(&Some(FieldValue::Text("dry".into())))
        );
        assert!(row(["13800000001", "A", "", "", "", "", "", ""])
            .unwrap()
            .profile
            .is_none());
        for bad in [
            ["13800000001", "A", "x", "", "", "", "", ""],
            ["13800000001", "A", "", "1990/05/01", "", "", "", ""],
            ["13800000001", "A", "", "", "", "", "tall", ""],
            ["13800000001", "A", "", "", "", "", "400", ""],
            ["13800000001", "A", "", "", "", "", "", "wet"],
        ] {
            assert!(row(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            Header::new(["phone", "name", "field_0"]),
            Err(ImportError::UnknownColumn(_))
        ));
        let unknown = header(&["phone", "name", "field_3"]);
        assert!(ImportRow::parse(&unknown, &["13800000001", "A", "x"], &defs).is_err());
    }
}

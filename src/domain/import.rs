//! Members brought from another system (会员导入), and taken out the same way (导出): the
//! columns of the file, each row checked on its own, and what a row becomes (a member and
//! the opening operation that gives them their holdings).

use chrono::NaiveDate;

use super::booking::ServiceId;
use super::counter::CounterOp;
use super::ids::{Name, Phone};
use super::levels::LevelId;
use super::money::{Amount, Money};

/// Rows of one import request; a bigger file is sent in parts (`first_row`).
pub const IMPORT_ROWS_MAX: usize = 1000;
/// Count cards one row may bring.
pub const IMPORT_CARDS_MAX: usize = 20;

/// Every column a file may have, in the order an export writes them. `phone` and `name`
/// are required; the others default to nothing.
pub const COLUMNS: [&str; 7] = [
    "phone",
    "name",
    "balance",
    "bonus",
    "points",
    "level_id",
    "count_cards",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("unknown column {0:?}; columns are phone, name, balance, bonus, points, level_id, count_cards")]
    UnknownColumn(String),
    #[error("column {0} appears twice")]
    DuplicateColumn(String),
    #[error("the header needs the columns phone and name")]
    MissingColumn,
    #[error("at most {IMPORT_ROWS_MAX} rows in one request")]
    TooManyRows,
}

/// Where each column is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header([Option<usize>; COLUMNS.len()]);

impl Header {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Header, ImportError> {
        let mut at = [None; COLUMNS.len()];
        for (i, raw) in names.into_iter().enumerate() {
            let name = raw.trim().trim_start_matches('\u{feff}');
            let c = COLUMNS
                .iter()
                .position(|c| *c == name)
                .ok_or_else(|| ImportError::UnknownColumn(name.chars().take(40).collect()))?;
            if at[c].replace(i).is_some() {
                return Err(ImportError::DuplicateColumn(name.to_owned()));
            }
        }
        if at[0].is_none() || at[1].is_none() {
            return Err(ImportError::MissingColumn);
        }
        Ok(Header(at))
    }

    fn get<'a>(&self, fields: &[&'a str], column: usize) -> &'a str {
        self.0[column]
            .and_then(|i| fields.get(i))
            .map_or("", |f| f.trim())
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
}

fn number<T: std::str::FromStr>(raw: &str, what: &str) -> Result<Option<T>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| format!("{what} {raw:.20} is not a whole number in range"))
}

impl ImportRow {
    /// The row's fields checked: a refusal names the column and why.
    pub fn parse(h: &Header, fields: &[&str]) -> Result<ImportRow, String> {
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

/// One exported row, in `COLUMNS` order.
pub fn export_row(
    phone: &str,
    name: &str,
    account: &super::ledger::Account,
) -> [String; COLUMNS.len()] {
    let m = &account.membership;
    let cards: Vec<String> = m
        .count_cards
        .iter()
        .filter(|c| c.remaining > 0)
        .map(|c| match c.expires_on {
            Some(d) => format!("{}:{}:{d}", c.service.0, c.remaining),
            None => format!("{}:{}", c.service.0, c.remaining),
        })
        .collect();
    [
        phone.to_owned(),
        name.to_owned(),
        account.balance.minor().to_string(),
        account.bonus.minor().to_string(),
        m.points.to_string(),
        m.level.0.to_string(),
        cards.join(";"),
    ]
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
        )
        .unwrap();
        assert_eq!(r.balance.unwrap().minor(), 50_000);
        assert_eq!(r.bonus.minor(), 5_000);
        assert_eq!(r.cards.len(), 2);
        assert_eq!(r.cards[1].2, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert!(r.opening().is_some());
        let bare = ImportRow::parse(&h, &["A", "13800000002", "", "", "", "", ""]).unwrap();
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
            assert!(ImportRow::parse(&h, &bad).is_err(), "{bad:?}");
        }
    }
}

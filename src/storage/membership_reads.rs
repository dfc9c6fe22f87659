//! Reads of membership state: the catalog at start-up, orders, activity history, held
//! orders and inter-store settlement. Everything here is durable by construction.

use rocksdb::{Direction, IteratorMode};

use super::db::{decode_at, Storage, StorageError};
use super::keys;
use crate::domain::checkout::{Order, OrderId};
use crate::domain::counter::Catalog;
use crate::domain::coupon::CouponTemplate;
use crate::domain::gift::GiftId;
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::ledger::Timestamp;
use crate::domain::levels::{Level, LevelId, LevelRules};
use crate::domain::membership::ActivityRecord;
use crate::domain::money::Money;

/// Totals of the settlement lines of one store pair over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettlementTotal {
    pub lines: u64,
    pub amount: Money,
}

impl Storage {
    pub fn catalog(&self, point_value: Money) -> Result<Catalog, StorageError> {
        let mut catalog = Catalog {
            point_value,
            ..Catalog::default()
        };
        let prefix = [keys::TAG_CATALOG];
        for item in self.db().prefix_iterator(prefix) {
            let (key, value) = item?;
            if key.first() != Some(&keys::TAG_CATALOG) {
                break;
            }
            let bad = || {
                super::db::corrupt(
                    &key,
                    super::codec::CodecError::Invalid("catalog item".into()),
                )
            };
            match key.get(1) {
                Some(b'l') => {
                    let level: Level = decode_at(&key, &value)?;
                    catalog.levels.put(level).map_err(|_| bad())?;
                }
                Some(b'o') if key.len() == 8 => {
                    let store =
                        StoreId::new(u32::from_be_bytes(key[2..6].try_into().map_err(|_| bad())?))
                            .map_err(|_| bad())?;
                    let level =
                        LevelId(u16::from_be_bytes(key[6..8].try_into().map_err(|_| bad())?));
                    let rules: LevelRules = decode_at(&key, &value)?;
                    catalog
                        .levels
                        .put_override(store, level, rules)
                        .map_err(|_| bad())?;
                }
                Some(b'g') => {
                    let g: crate::domain::gift::Gift = decode_at(&key, &value)?;
                    catalog.gifts.insert(g.id, g);
                }
                Some(b'c') => {
                    let t: CouponTemplate = decode_at(&key, &value)?;
                    catalog.coupons.insert(t.id, t);
                }
                Some(b'n') => {
                    let t: crate::domain::notify::MessageTemplate = decode_at(&key, &value)?;
                    catalog.templates.insert(t.event, t);
                }
                Some(b'w') => catalog.webhook = decode_at(&key, &value)?,
                Some(b'f') => {
                    let f: crate::domain::member_fields::FieldDef = decode_at(&key, &value)?;
                    catalog.member_fields.insert(f.id, f);
                }
                Some(b'r') => {
                    let r: crate::domain::access::RoleDef = decode_at(&key, &value)?;
                    catalog.roles.insert(r.name.clone(), r);
                }
                Some(b'e') => {
                    let e: crate::domain::staff::Employee = decode_at(&key, &value)?;
                    catalog.staff.put(e);
                }
                Some(b'i') => {
                    let i: crate::domain::price_list::PriceItem = decode_at(&key, &value)?;
                    std::sync::Arc::make_mut(&mut catalog.prices).load_item(i);
                }
                Some(b's') if key.len() == 10 => {
                    let item = u32::from_be_bytes(key[2..6].try_into().map_err(|_| bad())?);
                    let store = StoreId::new(u32::from_be_bytes(
                        key[6..10].try_into().map_err(|_| bad())?,
                    ))
                    .map_err(|_| bad())?;
                    let o: crate::domain::price_list::StoreItem = decode_at(&key, &value)?;
                    std::sync::Arc::make_mut(&mut catalog.prices).load_override(
                        crate::domain::price_list::ItemId(item),
                        store,
                        o,
                    );
                }
                _ => return Err(bad()),
            }
        }
        Ok(catalog)
    }

    /// Units of `gift` in stock at `store`: every merge operand folded in.
    pub fn gift_stock(&self, store: StoreId, gift: GiftId) -> Result<i64, StorageError> {
        self.get_rec(&keys::gift_stock(store, gift.0))
            .map(|v| v.unwrap_or(0))
    }

    pub fn order(&self, id: OrderId) -> Result<Option<Order>, StorageError> {
        let key = keys::id8(keys::TAG_ORDER, id.0);
        self.db()
            .get_pinned(&key)?
            .map(|v| decode_at(&key, &v))
            .transpose()
    }

    pub fn last_order_seq(&self, owner: StoreId) -> Result<u32, StorageError> {
        self.last_store_seq(keys::TAG_ORDER, owner)
    }

    /// Orders held at `store`, oldest first.
    /// How many orders `store` holds, counting at most `limit` (index keys only).
    pub fn held_count(&self, store: StoreId, limit: usize) -> Result<usize, StorageError> {
        let mut prefix = vec![keys::TAG_HELD];
        prefix.extend_from_slice(&store.get().to_be_bytes());
        let mut n = 0;
        for item in self.db().prefix_iterator(&prefix) {
            let (key, _) = item?;
            if !key.starts_with(&prefix) || n >= limit {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    pub fn held_orders(&self, store: StoreId, limit: usize) -> Result<Vec<Order>, StorageError> {
        let prefix = {
            let mut k = vec![keys::TAG_HELD];
            k.extend_from_slice(&store.get().to_be_bytes());
            k
        };
        let mut out = Vec::new();
        for item in self.db().prefix_iterator(&prefix) {
            let (key, _) = item?;
            if !key.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let id = key
                .get(5..13)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes);
            if let Some(order) = id.map(|id| self.order(OrderId(id))).transpose()?.flatten() {
                out.push(order);
            }
        }
        Ok(out)
    }

    /// A member's activity, newest first, before seq `before`.
    pub fn activity_page(
        &self,
        member: MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ActivityRecord>, StorageError> {
        let prefix = &keys::activity(member, 0)[..9];
        let start = match before {
            Some(0) => return Ok(Vec::new()),
            Some(s) => keys::activity(member, s - 1),
            None => keys::activity(member, u64::MAX),
        };
        self.newest_first(prefix, &start, limit)
    }

    /// What `home` owes `store` for its members' spending there in [from, to).
    pub fn settlement(
        &self,
        home: StoreId,
        store: StoreId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<SettlementTotal, StorageError> {
        let prefix = keys::settlement_prefix(home, store);
        let mut start = prefix.clone();
        start.extend_from_slice(&(from.timestamp_micros().max(0) as u64).to_be_bytes());
        let end_us = to.timestamp_micros().max(0) as u64;
        let mut total = SettlementTotal::default();
        for item in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            let at = key
                .get(9..17)
                .and_then(|b| b.try_into().ok())
                .map_or(u64::MAX, u64::from_be_bytes);
            if at >= end_us {
                break;
            }
            let owed: i64 = decode_at(&key, &value)?;
            total.lines += 1;
            total.amount = total
                .amount
                .checked_add(Money::from_minor(owed))
                .unwrap_or(total.amount);
        }
        Ok(total)
    }
}

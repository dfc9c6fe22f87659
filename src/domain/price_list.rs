//! The price list (价目表): services and products HQ sells, in categories, with SKU and
//! barcode, unit, price, member-level prices, points per item, and whether coupons and
//! stored value may pay for them. A store may override an item's price and availability.
//! Every change takes the next catalog version; an order line records the version it was
//! priced with, and `k` history records keep each item as it was at each version.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::booking::ServiceId;
use super::checkout::{Item, OrderLine};
use super::ids::StoreId;
use super::levels::LevelId;
use super::money::{Money, AMOUNT_MAX_MINOR};

/// Items the price list holds at most.
pub const ITEMS_MAX: usize = 20_000;
pub const ITEM_ID_MAX: u32 = 99_999_999;
pub const CATEGORY_LEN_MAX: usize = 32;
pub const BARCODE_LEN_MAX: usize = 32;
pub const UNIT_LEN_MAX: usize = 8;
/// Points one unit of an item can earn at most.
pub const POINTS_EACH_MAX: i64 = 1_000_000;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct ItemId(pub u32);

/// What an item is: a service (bookable, payable by count card) or a stocked product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ItemKind {
    Service(ServiceId),
    Product,
}

/// An item as HQ defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PriceItem {
    pub id: ItemId,
    pub name: String,
    pub kind: ItemKind,
    pub category: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub unit: String,
    pub price: Money,
    /// Explicit prices for members of these levels (会员价).
    pub level_prices: BTreeMap<LevelId, Money>,
    /// Whether the member's level discount applies when the level has no explicit price.
    pub level_discount: bool,
    /// Points each unit earns, instead of the level's points per yuan.
    pub points_each: Option<i64>,
    pub coupon_ok: bool,
    pub stored_value_ok: bool,
    /// Whether sales may take the stock below zero (sold before it is received).
    pub negative_stock_ok: bool,
    /// HQ sells it at all (false: discontinued everywhere).
    pub on_sale: bool,
    /// The catalog version of this definition.
    pub version: u64,
}

/// A store's own price or availability of an item (门店调价).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoreItem {
    pub price: Option<Money>,
    pub available: bool,
    pub version: u64,
}

/// An order line's record of the catalog item it sold, as it was priced: the order stays
/// readable and returnable whatever the catalog becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PricedItem {
    pub id: ItemId,
    pub name: String,
    pub category: String,
    pub service: Option<ServiceId>,
    pub sku: Option<String>,
    /// A stocked product: sales and returns move the selling store's stock.
    pub product: bool,
    /// The catalog version it was priced with.
    pub version: u64,
    /// The unit price was typed at the counter (a price override), not the catalog's.
    pub typed: bool,
    /// What the member's level made the line cost (the list value without a member).
    pub member_value: Money,
    pub coupon_ok: bool,
    pub stored_value_ok: bool,
    pub points_each: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PriceError {
    #[error("item {0} not found")]
    NotFound(u32),
    #[error("item {item} is not sold at store {store}")]
    Unavailable { item: u32, store: u32 },
    #[error("{0}")]
    Invalid(String),
    #[error("{what} {value} is already item {item}'s")]
    Taken {
        what: String,
        value: String,
        item: u32,
    },
    #[error("a count card pays only for service items")]
    CardNotService,
}

fn text_ok(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

fn money_ok(m: Money) -> bool {
    (0..=AMOUNT_MAX_MINOR).contains(&m.minor())
}

impl PriceItem {
    /// Checks every field's range; the version is set by the price list.
    pub fn check(&self) -> Result<(), PriceError> {
        let bad = |m: &str| Err(PriceError::Invalid(m.to_owned()));
        if self.id.0 == 0 || self.id.0 > ITEM_ID_MAX {
            return bad("item ids are 1 to 99999999");
        }
        if !text_ok(&self.category, CATEGORY_LEN_MAX) {
            return bad("a category is 1 to 32 characters");
        }
        if !text_ok(&self.unit, UNIT_LEN_MAX) {
            return bad("a unit is 1 to 8 characters");
        }
        if self
            .sku
            .as_deref()
            .is_some_and(|s| !text_ok(s, super::checkout::SKU_LEN_MAX) || s.trim() != s)
        {
            return bad("a SKU is 1 to 64 characters, without spaces around");
        }
        if self.barcode.as_deref().is_some_and(|b| {
            b.len() > BARCODE_LEN_MAX
                || b.is_empty()
                || !b.bytes().all(|c| c.is_ascii_alphanumeric())
        }) {
            return bad("a barcode is 1 to 32 letters or digits");
        }
        if !money_ok(self.price) || !self.level_prices.values().all(|m| money_ok(*m)) {
            return bad("prices are 0 to 1,000,000,000.00");
        }
        if self.level_prices.len() > super::levels::LEVELS_MAX {
            return bad("at most 32 level prices");
        }
        if self
            .points_each
            .is_some_and(|p| !(0..=POINTS_EACH_MAX).contains(&p))
        {
            return bad("points_each is 0 to 1,000,000");
        }
        if matches!(self.kind, ItemKind::Service(_)) && self.negative_stock_ok {
            return bad("a service has no stock");
        }
        Ok(())
    }

    pub fn is_product(&self) -> bool {
        self.kind == ItemKind::Product
    }
}

/// The chain's price list: items, store overrides, and their indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceList {
    items: BTreeMap<ItemId, Arc<PriceItem>>,
    overrides: BTreeMap<(ItemId, StoreId), StoreItem>,
    by_barcode: BTreeMap<String, ItemId>,
    by_sku: BTreeMap<String, ItemId>,
    version: u64,
}

impl PriceList {
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn item(&self, id: ItemId) -> Option<&PriceItem> {
        self.items.get(&id).map(|a| &**a)
    }

    pub fn items(&self) -> impl Iterator<Item = &PriceItem> {
        self.items.values().map(|a| &**a)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn by_barcode(&self, code: &str) -> Option<ItemId> {
        self.by_barcode.get(code).copied()
    }

    pub fn by_sku(&self, sku: &str) -> Option<ItemId> {
        self.by_sku.get(sku).copied()
    }

    pub fn store_item(&self, id: ItemId, store: StoreId) -> Option<StoreItem> {
        self.overrides.get(&(id, store)).copied()
    }

    pub fn overrides_of(&self, id: ItemId) -> impl Iterator<Item = (StoreId, StoreItem)> + '_ {
        self.overrides
            .range((id, StoreId::MIN)..=(id, StoreId::MAX))
            .map(|((_, s), o)| (*s, *o))
    }

    /// Defines or changes an item: it takes the next version. SKU and barcode are unique.
    pub fn put(&mut self, mut item: PriceItem) -> Result<PriceItem, PriceError> {
        item.check()?;
        let old = self.items.get(&item.id).cloned();
        if old.is_none() && self.items.len() >= ITEMS_MAX {
            return Err(PriceError::Invalid(format!("at most {ITEMS_MAX} items")));
        }
        for (what, value, index) in [
            ("barcode", &item.barcode, &self.by_barcode),
            ("SKU", &item.sku, &self.by_sku),
        ] {
            if let Some(v) = value {
                if let Some(other) = index.get(v).filter(|o| **o != item.id) {
                    return Err(PriceError::Taken {
                        what: what.to_owned(),
                        value: v.clone(),
                        item: other.0,
                    });
                }
            }
        }
        if let Some(old) = &old {
            if old.kind != item.kind {
                return Err(PriceError::Invalid(
                    "an item's kind (service or product) never changes".into(),
                ));
            }
            if let Some(b) = &old.barcode {
                self.by_barcode.remove(b);
            }
            if let Some(s) = &old.sku {
                self.by_sku.remove(s);
            }
        }
        self.version += 1;
        item.version = self.version;
        self.index(&item);
        self.items.insert(item.id, Arc::new(item.clone()));
        Ok(item)
    }

    fn index(&mut self, item: &PriceItem) {
        if let Some(b) = &item.barcode {
            self.by_barcode.insert(b.clone(), item.id);
        }
        if let Some(s) = &item.sku {
            self.by_sku.insert(s.clone(), item.id);
        }
    }

    /// A store's price or availability of an item: it takes the next version.
    pub fn put_override(
        &mut self,
        id: ItemId,
        store: StoreId,
        price: Option<Money>,
        available: bool,
    ) -> Result<StoreItem, PriceError> {
        if !self.items.contains_key(&id) {
            return Err(PriceError::NotFound(id.0));
        }
        if price.is_some_and(|m| !money_ok(m)) {
            return Err(PriceError::Invalid(
                "prices are 0 to 1,000,000,000.00".into(),
            ));
        }
        self.version += 1;
        let o = StoreItem {
            price,
            available,
            version: self.version,
        };
        self.overrides.insert((id, store), o);
        Ok(o)
    }

    /// Loads a stored definition as it is (recovery): versions are the stored ones.
    pub fn load_item(&mut self, item: PriceItem) {
        self.version = self.version.max(item.version);
        self.index(&item);
        self.items.insert(item.id, Arc::new(item));
    }

    pub fn load_override(&mut self, id: ItemId, store: StoreId, o: StoreItem) {
        self.version = self.version.max(o.version);
        self.overrides.insert((id, store), o);
    }

    /// The price list's version after recovery: at least every stored version.
    pub fn load_version(&mut self, v: u64) {
        self.version = self.version.max(v);
    }

    /// What `store` charges for one unit, or why it does not sell the item.
    pub fn store_price(&self, id: ItemId, store: StoreId) -> Result<Money, PriceError> {
        let item = self.item(id).ok_or(PriceError::NotFound(id.0))?;
        let o = self.store_item(id, store);
        if !item.on_sale || o.is_some_and(|o| !o.available) {
            return Err(PriceError::Unavailable {
                item: id.0,
                store: store.get(),
            });
        }
        Ok(o.and_then(|o| o.price).unwrap_or(item.price))
    }

    /// Prices the catalog lines of an order at `store`: the store's price unless the line's
    /// price was typed, and the record of the item as sold. Other lines are left alone.
    pub fn price_lines(&self, store: StoreId, lines: &mut [OrderLine]) -> Result<(), PriceError> {
        for line in lines.iter_mut() {
            let Item::Priced(p) = &mut line.item else {
                continue;
            };
            let item = self.item(p.id).ok_or(PriceError::NotFound(p.id.0))?;
            let price = self.store_price(p.id, store)?;
            if line.card.is_some() && !matches!(item.kind, ItemKind::Service(_)) {
                return Err(PriceError::CardNotService);
            }
            if !p.typed {
                line.unit_price = price;
            }
            **p = PricedItem {
                id: item.id,
                name: item.name.clone(),
                category: item.category.clone(),
                service: match item.kind {
                    ItemKind::Service(s) => Some(s),
                    ItemKind::Product => None,
                },
                sku: item.sku.clone(),
                product: item.is_product(),
                version: self.version,
                typed: p.typed,
                member_value: Money::from_minor(
                    line.unit_price
                        .minor()
                        .saturating_mul(i64::from(line.quantity)),
                ),
                coupon_ok: item.coupon_ok,
                stored_value_ok: item.stored_value_ok,
                points_each: item.points_each,
            };
        }
        Ok(())
    }

    /// An explicit price of the item for members of `level`, if HQ set one.
    pub fn level_price(&self, id: ItemId, level: LevelId) -> Option<Money> {
        self.item(id)
            .and_then(|i| i.level_prices.get(&level).copied())
    }

    pub fn level_discount(&self, id: ItemId) -> bool {
        self.item(id).is_none_or(|i| i.level_discount)
    }
}

/// A line that names a catalog item, to be priced by [`PriceList::price_lines`]: with
/// `typed`, the unit price given is kept (a price override).
pub fn catalog_line(
    id: ItemId,
    typed: Option<Money>,
    quantity: u32,
    card: Option<super::membership::CardId>,
) -> OrderLine {
    OrderLine {
        item: Item::Priced(Box::new(PricedItem {
            id,
            name: String::new(),
            category: String::new(),
            service: None,
            sku: None,
            product: false,
            version: 0,
            typed: typed.is_some(),
            member_value: Money::ZERO,
            coupon_ok: true,
            stored_value_ok: true,
            points_each: None,
        })),
        unit_price: typed.unwrap_or(Money::ZERO),
        quantity,
        card,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn product(id: u32, price: i64) -> PriceItem {
        PriceItem {
            id: ItemId(id),
            name: format!("item {id}"),
            kind: ItemKind::Product,
            category: "care".into(),
            sku: Some(format!("SKU-{id}")),
            barcode: Some(format!("690{id}")),
            unit: "瓶".into(),
            price: Money::from_minor(price),
            level_prices: BTreeMap::new(),
            level_discount: true,
            points_each: None,
            coupon_ok: true,
            stored_value_ok: true,
            negative_stock_ok: false,
            on_sale: true,
            version: 0,
        }
    }

    #[test]
    fn versions_indexes_and_store_prices() {
        let mut l = PriceList::default();
        let s = StoreId::new(1).unwrap();
        assert_eq!(l.put(product(1, 1_000)).unwrap().version, 1);
        assert_eq!(l.by_barcode("6901"), Some(ItemId(1)));
        let mut clash = product(2, 5);
        clash.sku = Some("SKU-1".into());
        assert!(matches!(
            l.put(clash),
            Err(PriceError::Taken { item: 1, .. })
        ));
        let mut renamed = product(1, 1_200);
        renamed.barcode = Some("777".into());
        assert_eq!(l.put(renamed).unwrap().version, 2);
        assert_eq!(l.by_barcode("6901"), None);
        assert_eq!(l.store_price(ItemId(1), s).unwrap().minor(), 1_200);
        l.put_override(ItemId(1), s, Some(Money::from_minor(900)), true)
            .unwrap();
        assert_eq!(l.store_price(ItemId(1), s).unwrap().minor(), 900);
        l.put_override(ItemId(1), s, None, false).unwrap();
        assert!(matches!(
            l.store_price(ItemId(1), s),
            Err(PriceError::Unavailable { .. })
        ));
        assert_eq!(l.version(), 4);
        let mut service = product(1, 5);
        service.kind = ItemKind::Service(ServiceId(1));
        service.sku = None;
        service.barcode = None;
        assert!(l.put(service).is_err(), "kind never changes");
    }

    #[test]
    fn lines_are_priced_unless_typed() {
        let mut l = PriceList::default();
        let s = StoreId::new(1).unwrap();
        l.put(product(1, 1_000)).unwrap();
        let mut lines = vec![
            catalog_line(ItemId(1), None, 2, None),
            catalog_line(ItemId(1), Some(Money::from_minor(1)), 1, None),
        ];
        l.price_lines(s, &mut lines).unwrap();
        assert_eq!(lines[0].unit_price.minor(), 1_000);
        assert_eq!(lines[1].unit_price.minor(), 1);
        let Item::Priced(p) = &lines[1].item else {
            panic!("priced")
        };
        assert!(p.typed && p.product && p.version == 1);
        let mut card = vec![catalog_line(
            ItemId(1),
            None,
            1,
            Some(super::super::membership::CardId(1)),
        )];
        assert_eq!(l.price_lines(s, &mut card), Err(PriceError::CardNotService));
    }
}

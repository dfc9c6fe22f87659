//! Membership levels (会员等级): what a level gives (discount, points, recharge bonus) and
//! what it takes to reach it. HQ defines the levels; a store may override a level's rules
//! for itself. Levels are ordered by id: a higher id is a higher level. Level 0 is the
//! base level every member starts at: full price, no points, no bonus, unless HQ defines it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::StoreId;
use super::money::{Money, Rate};

pub const LEVEL_ID_MAX: u16 = 99;
pub const LEVELS_MAX: usize = 32;
pub const RECHARGE_TIERS_MAX: usize = 16;
/// A tier's bonus is at most this share of its minimum (basis points: 100%), so no rule,
/// HQ's or a store's, can turn a small recharge into unbounded promotion money.
pub const TIER_BONUS_RATE_MAX_BP: i64 = 10_000;
/// Points per yuan are capped so that points on the largest amount can't overflow.
pub const POINTS_PER_YUAN_MAX: u32 = 1_000;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct LevelId(pub u16);

/// A recharge tier (充值规则): recharging at least `min` in one go gives `bonus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RechargeTier {
    pub min: Money,
    pub bonus: Money,
}

/// What it takes to reach a level; any one threshold met is enough. No threshold: the
/// level is only given by hand (not at all, here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpgradeRule {
    pub recharged: Option<Money>,
    pub spent: Option<Money>,
    pub points: Option<i64>,
}

/// A member's running totals, which upgrade rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    pub recharged: Money,
    pub spent: Money,
    pub points_earned: i64,
}

impl UpgradeRule {
    pub fn met_by(&self, t: &Totals) -> bool {
        self.recharged.is_some_and(|m| t.recharged >= m)
            || self.spent.is_some_and(|m| t.spent >= m)
            || self.points.is_some_and(|p| t.points_earned >= p)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LevelRules {
    /// Share of the list price a member of this level pays: 10,000 is full price.
    pub price_rate: Rate,
    /// Points earned per yuan (100 minor units) paid, rounded down.
    pub points_per_yuan: u32,
    /// Tiers by ascending `min`; the highest one reached applies.
    pub recharge_tiers: Vec<RechargeTier>,
    pub upgrade: UpgradeRule,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error("level id must be between 0 and {LEVEL_ID_MAX}")]
    BadId,
    #[error("at most {RECHARGE_TIERS_MAX} recharge tiers, with distinct positive minimums and bonuses from 0 to the tier's minimum")]
    BadTiers,
    #[error("points per yuan must be at most {POINTS_PER_YUAN_MAX}")]
    BadPointsRate,
    #[error("upgrade thresholds must be positive")]
    BadUpgrade,
    #[error("at most {LEVELS_MAX} levels")]
    TooMany,
    #[error("level {0} is not defined")]
    Unknown(u16),
}

/// The base level's rules when HQ has not defined level 0.
pub static BASE_RULES: LevelRules = LevelRules {
    price_rate: Rate::FULL,
    points_per_yuan: 0,
    recharge_tiers: Vec::new(),
    upgrade: UpgradeRule {
        recharged: None,
        spent: None,
        points: None,
    },
};

impl LevelRules {
    /// Sorts the tiers and checks every limit.
    pub fn validated(mut self) -> Result<LevelRules, LevelError> {
        if self.recharge_tiers.len() > RECHARGE_TIERS_MAX
            || self.recharge_tiers.iter().any(|t| {
                t.min.minor() <= 0
                    || t.bonus.is_negative()
                    || i128::from(t.bonus.minor()) * 10_000
                        > i128::from(t.min.minor()) * i128::from(TIER_BONUS_RATE_MAX_BP)
            })
        {
            return Err(LevelError::BadTiers);
        }
        self.recharge_tiers.sort_by_key(|t| t.min);
        if self.recharge_tiers.windows(2).any(|w| w[0].min == w[1].min) {
            return Err(LevelError::BadTiers);
        }
        if self.points_per_yuan > POINTS_PER_YUAN_MAX {
            return Err(LevelError::BadPointsRate);
        }
        let u = &self.upgrade;
        if u.recharged.is_some_and(|m| m.minor() <= 0)
            || u.spent.is_some_and(|m| m.minor() <= 0)
            || u.points.is_some_and(|p| p <= 0)
        {
            return Err(LevelError::BadUpgrade);
        }
        Ok(self)
    }

    /// The bonus for recharging `paid` in one go: the highest tier reached, not a multiple.
    pub fn bonus_for(&self, paid: Money) -> Money {
        self.recharge_tiers
            .iter()
            .rev()
            .find(|t| paid >= t.min)
            .map_or(Money::ZERO, |t| t.bonus)
    }

    /// The price a member of this level pays for `list`, rounded half up to the fen.
    pub fn member_price(&self, list: Money) -> Money {
        let scaled = i128::from(list.minor()) * i128::from(self.price_rate.bp());
        Money::from_minor(((scaled + 5_000) / 10_000) as i64)
    }

    pub fn points_for(&self, paid: Money) -> i64 {
        paid.minor().max(0) / 100 * i64::from(self.points_per_yuan)
            + paid.minor().max(0) % 100 * i64::from(self.points_per_yuan) / 100
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Level {
    pub id: LevelId,
    pub name: String,
    pub rules: LevelRules,
}

/// HQ's levels and the stores' overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelCatalog {
    levels: BTreeMap<LevelId, Level>,
    overrides: BTreeMap<(StoreId, LevelId), LevelRules>,
}

impl LevelCatalog {
    pub fn put(&mut self, level: Level) -> Result<(), LevelError> {
        if level.id.0 > LEVEL_ID_MAX {
            return Err(LevelError::BadId);
        }
        if !self.levels.contains_key(&level.id) && self.levels.len() >= LEVELS_MAX {
            return Err(LevelError::TooMany);
        }
        self.levels.insert(level.id, level);
        Ok(())
    }

    pub fn put_override(
        &mut self,
        store: StoreId,
        level: LevelId,
        rules: LevelRules,
    ) -> Result<(), LevelError> {
        if level != LevelId(0) && !self.levels.contains_key(&level) {
            return Err(LevelError::Unknown(level.0));
        }
        self.overrides.insert((store, level), rules);
        Ok(())
    }

    pub fn level(&self, id: LevelId) -> Option<&Level> {
        self.levels.get(&id)
    }

    pub fn levels(&self) -> impl Iterator<Item = &Level> {
        self.levels.values()
    }

    pub fn overrides(&self) -> impl Iterator<Item = (&(StoreId, LevelId), &LevelRules)> {
        self.overrides.iter()
    }

    /// The rules of `level` at `store`: the store's override, else HQ's, else the base.
    pub fn rules(&self, store: StoreId, level: LevelId) -> &LevelRules {
        self.overrides
            .get(&(store, level))
            .or_else(|| self.levels.get(&level).map(|l| &l.rules))
            .unwrap_or(&BASE_RULES)
    }

    /// The highest level above `current` whose upgrade rule at `store` the totals meet.
    /// Levels only go up by themselves.
    pub fn upgrade(&self, store: StoreId, current: LevelId, totals: &Totals) -> Option<LevelId> {
        self.levels
            .range(LevelId(current.0.saturating_add(1))..)
            .rev()
            .map(|(id, _)| *id)
            .find(|id| self.rules(store, *id).upgrade.met_by(totals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(n: i64) -> Money {
        Money::from_minor(n)
    }

    fn rules(rate: u16, tiers: &[(i64, i64)], spent: Option<i64>) -> LevelRules {
        LevelRules {
            price_rate: Rate::new(rate).unwrap(),
            points_per_yuan: 1,
            recharge_tiers: tiers
                .iter()
                .map(|&(min, bonus)| RechargeTier {
                    min: m(min),
                    bonus: m(bonus),
                })
                .collect(),
            upgrade: UpgradeRule {
                spent: spent.map(m),
                ..UpgradeRule::default()
            },
        }
        .validated()
        .unwrap()
    }

    #[test]
    fn highest_tier_reached_gives_its_bonus() {
        let r = rules(10_000, &[(200_000, 30_000), (100_000, 10_000)], None);
        assert_eq!(r.bonus_for(m(99_999)), Money::ZERO);
        assert_eq!(r.bonus_for(m(100_000)), m(10_000));
        assert_eq!(r.bonus_for(m(199_999)), m(10_000));
        assert_eq!(r.bonus_for(m(250_000)), m(30_000));
    }

    /// Issue 22: a store override's bonus had no upper bound.
    #[test]
    fn a_tier_bonus_is_at_most_its_minimum() {
        let rules = |bonus: i64| LevelRules {
            price_rate: Rate::FULL,
            points_per_yuan: 0,
            recharge_tiers: vec![RechargeTier {
                min: m(10_000),
                bonus: m(bonus),
            }],
            upgrade: UpgradeRule::default(),
        };
        assert!(rules(10_000).validated().is_ok());
        assert_eq!(rules(10_001).validated(), Err(LevelError::BadTiers));
        assert_eq!(rules(i64::MAX).validated(), Err(LevelError::BadTiers));
    }

    #[test]
    fn member_price_rounds_half_up_and_points_round_down() {
        let r = rules(8_800, &[], None);
        assert_eq!(r.member_price(m(1_000)), m(880));
        assert_eq!(r.member_price(m(5)), m(4)); // 4.4 -> 4
        assert_eq!(r.member_price(m(15)), m(13)); // 13.2 -> 13
        assert_eq!(r.points_for(m(199)), 1);
        assert_eq!(r.points_for(m(200)), 2);
    }

    #[test]
    fn upgrade_exactly_at_threshold_and_store_override() {
        let mut c = LevelCatalog::default();
        let s1 = StoreId::new(1).unwrap();
        let s2 = StoreId::new(2).unwrap();
        for (id, spent) in [(1, 100_000), (2, 500_000)] {
            c.put(Level {
                id: LevelId(id),
                name: format!("L{id}"),
                rules: rules(9_000, &[], Some(spent)),
            })
            .unwrap();
        }
        c.put_override(s2, LevelId(1), rules(9_500, &[], Some(50_000)))
            .unwrap();
        let t = |spent| Totals {
            spent: m(spent),
            ..Totals::default()
        };
        assert_eq!(c.upgrade(s1, LevelId(0), &t(99_999)), None);
        assert_eq!(c.upgrade(s1, LevelId(0), &t(100_000)), Some(LevelId(1)));
        assert_eq!(c.upgrade(s2, LevelId(0), &t(50_000)), Some(LevelId(1)));
        assert_eq!(c.upgrade(s1, LevelId(0), &t(500_000)), Some(LevelId(2)));
        assert_eq!(c.upgrade(s1, LevelId(2), &t(900_000)), None);
        assert_eq!(c.rules(s2, LevelId(1)).price_rate.bp(), 9_500);
        assert_eq!(c.rules(s1, LevelId(7)), &BASE_RULES);
    }
}

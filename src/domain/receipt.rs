//! The text receipt of an order (小票), printed again on request (复打小票): what was sold,
//! what it cost, how it was paid, and what has been returned since.

use std::fmt::Write as _;

use super::checkout::{Item, Order, OrderStatus};
use super::money::Money;

/// Characters of a receipt's line (a 58 mm printer's width).
pub const RECEIPT_WIDTH: usize = 32;

fn yuan(m: Money) -> String {
    let minor = m.minor();
    let sign = if minor < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02}",
        minor.unsigned_abs() / 100,
        minor.unsigned_abs() % 100
    )
}

fn row(out: &mut String, left: &str, right: &str) {
    let used = left.chars().count() + right.chars().count();
    let pad = RECEIPT_WIDTH.saturating_sub(used).max(1);
    let _ = writeln!(out, "{left}{}{right}", " ".repeat(pad));
}

fn item_name(item: &Item) -> String {
    match item {
        Item::Priced(p) => p.name.clone(),
        Item::Service(s) => format!("service {}", s.0),
        Item::Product(sku) => sku.clone(),
    }
}

/// The receipt of `order`, sold at the store named `store`; `at` is its local time text,
/// `printed` the local time of this print.
pub fn render(order: &Order, store: &str, at: &str, printed: &str) -> String {
    let mut out = String::new();
    let rule = "-".repeat(RECEIPT_WIDTH);
    let _ = writeln!(out, "{store}");
    row(&mut out, &format!("Order {}", order.id.0), "");
    let _ = writeln!(out, "{at}");
    match order.member {
        Some(m) => {
            let _ = writeln!(out, "Member {m}");
        }
        None => {
            let _ = writeln!(out, "Walk-in");
        }
    }
    let _ = writeln!(out, "{rule}");
    for (i, l) in order.lines.iter().enumerate() {
        let value = Money::from_minor(l.unit_price.minor() * i64::from(l.quantity));
        let _ = writeln!(out, "{}. {}", i + 1, item_name(&l.item));
        let right = match l.card {
            Some(c) => format!("card {} x{}", c.0, l.quantity),
            None => yuan(value),
        };
        row(
            &mut out,
            &format!("   {} x {}", yuan(l.unit_price), l.quantity),
            &right,
        );
        if let Item::Priced(p) = &l.item {
            if p.typed {
                let _ = writeln!(out, "   price typed at the counter");
            }
            if l.card.is_none() && p.member_value != value && order.member.is_some() {
                row(&mut out, "   member price", &yuan(p.member_value));
            }
        }
        let back = order.returned.quantities.get(i).copied().unwrap_or(0);
        if back > 0 {
            row(&mut out, "   returned", &format!("x{back}"));
        }
    }
    let _ = writeln!(out, "{rule}");
    if order.status == OrderStatus::Held {
        let _ = writeln!(out, "HELD, not paid");
        return out;
    }
    let p = &order.pricing;
    row(&mut out, "List", &yuan(p.list));
    if p.member_price != p.list {
        row(&mut out, "Member price", &yuan(p.member_price));
    }
    if p.coupon_off != Money::ZERO {
        row(&mut out, "Coupon", &format!("-{}", yuan(p.coupon_off)));
    }
    row(&mut out, "Due", &yuan(p.payable));
    let pay = &order.payment;
    if pay.stored_value != Money::ZERO {
        row(&mut out, "Stored value", &yuan(pay.stored_value));
    }
    if pay.points != 0 {
        row(&mut out, "Points", &pay.points.to_string());
    }
    for (kind, amount) in &pay.tenders {
        row(&mut out, kind.name(), &yuan(*amount));
    }
    if order.points_earned != 0 {
        row(&mut out, "Points earned", &order.points_earned.to_string());
    }
    let r = &order.returned;
    if r.quantities.iter().any(|q| *q > 0) {
        let _ = writeln!(out, "{rule}");
        let given: i64 = r.stored_value.minor() + r.tenders.iter().map(|m| m.minor()).sum::<i64>();
        row(&mut out, "Returned", &yuan(Money::from_minor(given)));
        if r.points != 0 {
            row(&mut out, "Points back", &r.points.to_string());
        }
    }
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(out, "Reprinted {printed}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_as_yuan() {
        assert_eq!(yuan(Money::from_minor(123_456)), "1234.56");
        assert_eq!(yuan(Money::from_minor(5)), "0.05");
        assert_eq!(yuan(Money::from_minor(-250)), "-2.50");
    }
}

//! Employees (员工): who works in which stores, their job, the bookable resource that is
//! them, and the API keys they sign in with. Leaving keeps the record (history, figures) and
//! ends the keys. Attribution: a sale, recharge or deduction may name the employee who made
//! it (导购), and a booking's service is credited to the employees its resources are.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::booking::ResourceId;
use super::ids::{Name, Phone, StoreId};
use super::ledger::Timestamp;

/// Most employees a chain keeps, those who left included.
pub const EMPLOYEES_MAX: usize = 100_000;
/// Most stores one employee works in.
pub const EMPLOYEE_STORES_MAX: usize = 64;
/// Longest job title, in characters (美容师, front desk, ...).
pub const JOB_LEN_MAX: usize = 32;
/// Most API keys linked to one employee.
pub const EMPLOYEE_CREDENTIALS_MAX: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EmployeeId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmployeeStatus {
    Active,
    Left,
}

impl EmployeeStatus {
    pub fn name(self) -> &'static str {
        match self {
            EmployeeStatus::Active => "active",
            EmployeeStatus::Left => "left",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    pub id: EmployeeId,
    /// Checked as a `Name`.
    pub name: String,
    /// Checked as a `Phone`.
    pub phone: Option<String>,
    /// 1 to `EMPLOYEE_STORES_MAX` stores, ascending.
    pub stores: Vec<StoreId>,
    pub job: String,
    pub status: EmployeeStatus,
    /// The bookable resource that is this employee (a therapist, a coach), in one of
    /// `stores`: services booked on it are credited to them.
    pub resource: Option<ResourceId>,
    /// API keys issued to them, revoked when they leave.
    pub credentials: Vec<u64>,
    pub created_at: Timestamp,
    pub left_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    #[error("{0}")]
    Field(&'static str),
    #[error("employee {0} has left")]
    Left(u32),
    #[error("employee {0} does not work in store {1}")]
    NotHere(u32, u32),
    #[error("resource {0} is already employee {1}'s")]
    ResourceTaken(u64, u32),
    #[error("an employee has at most {EMPLOYEE_CREDENTIALS_MAX} keys")]
    TooManyKeys,
}

/// What a create or an edit sets. Absent fields of an edit keep their value; `Some(None)`
/// clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmployeeEdit {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
    pub stores: Option<Vec<StoreId>>,
    pub job: Option<String>,
    pub resource: Option<Option<ResourceId>>,
}

impl EmployeeEdit {
    /// `e` with this edit applied, every field checked. A resource is checked against the
    /// stores by the caller, which knows where resources are.
    pub fn apply(&self, e: &Employee) -> Result<Employee, StaffError> {
        if e.status == EmployeeStatus::Left {
            return Err(StaffError::Left(e.id.0));
        }
        let mut out = e.clone();
        if let Some(name) = &self.name {
            out.name = Name::new(name, "employee name")
                .map_err(|_| StaffError::Field("name must be 1 to 64 visible characters"))?
                .as_str()
                .to_owned();
        }
        if let Some(phone) = &self.phone {
            out.phone = match phone {
                Some(p) => Some(
                    Phone::new(p)
                        .map_err(|_| StaffError::Field("phone must be 6 to 20 digits"))?
                        .as_str()
                        .to_owned(),
                ),
                None => None,
            };
        }
        if let Some(stores) = &self.stores {
            let mut s = stores.clone();
            s.sort();
            s.dedup();
            if s.is_empty() || s.len() > EMPLOYEE_STORES_MAX {
                return Err(StaffError::Field("an employee works in 1 to 64 stores"));
            }
            out.stores = s;
        }
        if let Some(job) = &self.job {
            let job = job.trim();
            if job.chars().count() > JOB_LEN_MAX || job.chars().any(char::is_control) {
                return Err(StaffError::Field("job is at most 32 visible characters"));
            }
            out.job = job.to_owned();
        }
        if let Some(r) = self.resource {
            out.resource = r;
        }
        if out.name.is_empty() || out.stores.is_empty() {
            return Err(StaffError::Field("an employee needs a name and a store"));
        }
        Ok(out)
    }
}

/// The chain's employees, and which resource is whose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Staff {
    employees: BTreeMap<EmployeeId, Employee>,
    by_resource: HashMap<ResourceId, EmployeeId>,
}

impl Staff {
    pub fn get(&self, id: EmployeeId) -> Option<&Employee> {
        self.employees.get(&id)
    }

    pub fn len(&self) -> usize {
        self.employees.len()
    }

    pub fn is_empty(&self) -> bool {
        self.employees.is_empty()
    }

    pub fn last_id(&self) -> u32 {
        self.employees.keys().next_back().map_or(0, |id| id.0)
    }

    /// In id order, after `after`.
    pub fn after(&self, after: u32) -> impl Iterator<Item = &Employee> {
        self.employees
            .range(EmployeeId(after.saturating_add(1))..)
            .map(|(_, e)| e)
    }

    /// The active employee a resource is, if any.
    pub fn of_resource(&self, r: ResourceId) -> Option<EmployeeId> {
        self.by_resource.get(&r).copied()
    }

    /// Is `e` free to be linked to resource `r` (no other employee is it)?
    pub fn resource_free(&self, r: ResourceId, e: EmployeeId) -> Result<(), StaffError> {
        match self.by_resource.get(&r) {
            Some(other) if *other != e => Err(StaffError::ResourceTaken(r.0, other.0)),
            _ => Ok(()),
        }
    }

    /// Adds or replaces an employee, keeping the resource index: only active employees
    /// are found by their resource.
    pub fn put(&mut self, e: Employee) {
        if let Some(r) = self.employees.get(&e.id).and_then(|old| old.resource) {
            if self.by_resource.get(&r) == Some(&e.id) {
                self.by_resource.remove(&r);
            }
        }
        if let (Some(r), EmployeeStatus::Active) = (e.resource, e.status) {
            self.by_resource.insert(r, e.id);
        }
        self.employees.insert(e.id, e);
    }

    /// May `id` be named on a write at `store`?
    pub fn attributable(&self, id: EmployeeId, store: StoreId) -> Result<(), AttributionError> {
        let e = self.get(id).ok_or(AttributionError::Unknown(id.0))?;
        if e.status == EmployeeStatus::Left {
            return Err(AttributionError::Staff(StaffError::Left(id.0)));
        }
        if !e.stores.contains(&store) {
            return Err(AttributionError::Staff(StaffError::NotHere(
                id.0,
                store.get(),
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributionError {
    #[error("no employee {0}")]
    Unknown(u32),
    #[error(transparent)]
    Staff(StaffError),
}

impl Employee {
    /// A new employee from a full edit (name and stores given).
    pub fn new(
        id: EmployeeId,
        edit: &EmployeeEdit,
        now: Timestamp,
    ) -> Result<Employee, StaffError> {
        let blank = Employee {
            id,
            name: String::new(),
            phone: None,
            stores: Vec::new(),
            job: String::new(),
            status: EmployeeStatus::Active,
            resource: None,
            credentials: Vec::new(),
            created_at: now,
            left_at: None,
        };
        edit.apply(&blank)
    }

    /// Leaves: the record stays, its resource is no longer theirs, the keys are to be
    /// revoked by the caller in the same write.
    pub fn leave(&self, now: Timestamp) -> Result<Employee, StaffError> {
        if self.status == EmployeeStatus::Left {
            return Err(StaffError::Left(self.id.0));
        }
        Ok(Employee {
            status: EmployeeStatus::Left,
            left_at: Some(now),
            ..self.clone()
        })
    }

    /// Links a new API key, for one of their stores.
    pub fn link_key(
        &self,
        credential: u64,
        key_stores: &[StoreId],
    ) -> Result<Employee, StaffError> {
        if self.status == EmployeeStatus::Left {
            return Err(StaffError::Left(self.id.0));
        }
        if let Some(s) = key_stores.iter().find(|s| !self.stores.contains(s)) {
            return Err(StaffError::NotHere(self.id.0, s.get()));
        }
        if self.credentials.len() >= EMPLOYEE_CREDENTIALS_MAX {
            return Err(StaffError::TooManyKeys);
        }
        let mut out = self.clone();
        out.credentials.push(credential);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(n: u32) -> StoreId {
        StoreId::new(n).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn hire(id: u32, resource: Option<u64>) -> Employee {
        Employee::new(
            EmployeeId(id),
            &EmployeeEdit {
                name: Some(" 王芳 ".into()),
                stores: Some(vec![s(2), s(1), s(2)]),
                job: Some("美容师".into()),
                resource: Some(resource.map(ResourceId)),
                ..EmployeeEdit::default()
            },
            now(),
        )
        .unwrap()
    }

    #[test]
    fn a_new_employee_is_checked_and_normalised() {
        let e = hire(1, None);
        assert_eq!(e.name, "王芳");
        assert_eq!(e.stores, vec![s(1), s(2)]);
        assert!(Employee::new(EmployeeId(2), &EmployeeEdit::default(), now()).is_err());
        let no_store = EmployeeEdit {
            name: Some("A".into()),
            stores: Some(vec![]),
            ..EmployeeEdit::default()
        };
        assert!(Employee::new(EmployeeId(2), &no_store, now()).is_err());
    }

    #[test]
    fn leaving_ends_attribution_and_frees_the_resource() {
        let mut staff = Staff::default();
        staff.put(hire(1, Some(7)));
        assert_eq!(staff.of_resource(ResourceId(7)), Some(EmployeeId(1)));
        assert_eq!(staff.attributable(EmployeeId(1), s(1)), Ok(()));
        assert!(matches!(
            staff.attributable(EmployeeId(1), s(3)),
            Err(AttributionError::Staff(StaffError::NotHere(1, 3)))
        ));
        assert_eq!(
            staff.resource_free(ResourceId(7), EmployeeId(2)),
            Err(StaffError::ResourceTaken(7, 1))
        );
        let left = staff.get(EmployeeId(1)).unwrap().leave(now()).unwrap();
        staff.put(left.clone());
        assert_eq!(staff.of_resource(ResourceId(7)), None);
        assert!(staff.attributable(EmployeeId(1), s(1)).is_err());
        assert!(left.leave(now()).is_err());
        assert!(left.link_key(9, &[s(1)]).is_err());
        assert!(EmployeeEdit::default().apply(&left).is_err());
        assert_eq!(
            staff.attributable(EmployeeId(5), s(1)),
            Err(AttributionError::Unknown(5))
        );
    }

    #[test]
    fn keys_are_for_their_stores_only() {
        let e = hire(1, None);
        assert!(e.link_key(4, &[s(3)]).is_err());
        let mut e = e.link_key(4, &[s(1)]).unwrap();
        for k in 5..(5 + EMPLOYEE_CREDENTIALS_MAX as u64 - 1) {
            e = e.link_key(k, &[]).unwrap();
        }
        assert_eq!(e.link_key(99, &[]), Err(StaffError::TooManyKeys));
    }

    proptest! {
        /// Whatever edits and departures happen, the resource index names exactly the active
        /// employees that hold a resource, one employee per resource.
        #[test]
        fn the_resource_index_follows_every_change(
            ops in proptest::collection::vec((1u32..6, proptest::option::of(1u64..5), any::<bool>()), 1..60)
        ) {
            let mut staff = Staff::default();
            for (id, resource, leave) in ops {
                let id = EmployeeId(id);
                let current = staff.get(id).cloned();
                let next = match (current, leave) {
                    (None, _) => hire(id.0, None),
                    (Some(e), true) => match e.leave(now()) { Ok(l) => l, Err(_) => continue },
                    (Some(e), false) => {
                        if let Some(r) = resource {
                            if staff.resource_free(ResourceId(r), id).is_err() { continue; }
                        }
                        let edit = EmployeeEdit { resource: Some(resource.map(ResourceId)), ..EmployeeEdit::default() };
                        match edit.apply(&e) { Ok(x) => x, Err(_) => continue }
                    }
                };
                staff.put(next);
                for e in staff.after(0) {
                    if let (Some(r), EmployeeStatus::Active) = (e.resource, e.status) {
                        prop_assert_eq!(staff.of_resource(r), Some(e.id));
                    }
                }
                for (r, id) in &staff.by_resource {
                    let e = staff.get(*id).unwrap();
                    prop_assert_eq!(e.resource, Some(*r));
                    prop_assert_eq!(e.status, EmployeeStatus::Active);
                }
            }
        }
    }
}

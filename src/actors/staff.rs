//! The Directory's employee messages (员工): hire, edit, leave. Employees are catalog items:
//! the new catalog is published in the handler that submits the change, so a write that
//! credits an employee is journaled after the record it read.

use actix::{Context, Handler, Message};

use super::directory::Directory;
use super::writer::begin_meta;
use super::{ActorError, WriteMeta, WriteResult};
use crate::domain::idempotency::Outcome;
use crate::domain::staff::{Employee, EmployeeEdit, EmployeeId, EMPLOYEES_MAX};
use crate::storage::directory_writes;

/// Hire (`id` none) or edit an employee.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct PutEmployee {
    pub meta: WriteMeta,
    pub id: Option<EmployeeId>,
    pub edit: EmployeeEdit,
}

/// An employee leaves: the record stays, their keys are revoked in the same write.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct LeaveEmployee {
    pub meta: WriteMeta,
    pub id: EmployeeId,
}

fn not_found(id: EmployeeId) -> ActorError {
    ActorError::NotFound(format!("employee {}", id.0))
}

impl Handler<PutEmployee> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: PutEmployee, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let mut catalog = (*self.registry.catalog()).clone();
        let now = self.registry.clock.now();
        let employee = match msg.id {
            None => {
                if catalog.staff.len() >= EMPLOYEES_MAX {
                    return Err(ActorError::Exhausted("employee records"));
                }
                let id = EmployeeId(catalog.staff.last_id() + 1);
                Employee::new(id, &msg.edit, now)?
            }
            Some(id) => {
                let old = catalog.staff.get(id).ok_or_else(|| not_found(id))?;
                msg.edit.apply(old)?
            }
        };
        for s in &employee.stores {
            if !self.registry.has_store(*s) {
                return Err(ActorError::StoreNotFound(s.get()));
            }
        }
        if let Some(r) = employee.resource {
            let home = super::scheduler::store_of_id(r.0)
                .filter(|s| employee.stores.contains(s))
                .ok_or_else(|| {
                    ActorError::Invalid(format!(
                        "resource {} is not in one of the employee's stores",
                        r.0
                    ))
                })?;
            let exists = self
                .registry
                .storage
                .resources_of(home)?
                .iter()
                .any(|x| x.id == r);
            if !exists {
                return Err(ActorError::NotFound(format!("resource {}", r.0)));
            }
            catalog.staff.resource_free(r, employee.id)?;
        }
        let writes = vec![directory_writes::employee(&employee)];
        catalog.staff.put(employee.clone());
        let answer =
            self.writer
                .commit_meta(msg.meta, Outcome::Employee(Box::new(employee)), writes);
        self.registry.publish_catalog(catalog);
        Ok(answer)
    }
}

impl Handler<LeaveEmployee> for Directory {
    type Result = WriteResult;

    fn handle(&mut self, msg: LeaveEmployee, _ctx: &mut Context<Self>) -> WriteResult {
        if let Some(answer) = begin_meta(self, &msg.meta)? {
            return Ok(answer);
        }
        let mut catalog = (*self.registry.catalog()).clone();
        let old = catalog.staff.get(msg.id).ok_or_else(|| not_found(msg.id))?;
        let gone = old.leave(self.registry.clock.now())?;
        let mut writes = vec![directory_writes::employee(&gone)];
        for id in &gone.credentials {
            if let Some((_, w)) = self.revoke(*id)? {
                writes.extend(w);
            }
        }
        catalog.staff.put(gone.clone());
        let answer = self
            .writer
            .commit_meta(msg.meta, Outcome::Employee(Box::new(gone)), writes);
        self.registry.publish_catalog(catalog);
        Ok(answer)
    }
}

//! Who may change what (invariant 5): a farmer manages their own listings and orders; co-op staff
//! and admins manage everything in their co-op; only admins manage staff.
//!
//! These are pure rules over ids and roles. The server checks them on every mutation, after it has
//! established who is asking from a device token.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::ids::{CoopId, MemberId};

/// A member's role in their co-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Staff,
    Farmer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Staff, Role::Farmer];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Farmer => "farmer",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Someone acting through a paired device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub member_id: MemberId,
    pub coop_id: CoopId,
    pub role: Role,
}

/// Whose a listing or an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub coop_id: CoopId,
    pub farmer_id: MemberId,
}

impl Actor {
    /// Whether the actor may change something owned by `owner`.
    pub fn may_manage(&self, owner: Owner) -> bool {
        if self.coop_id != owner.coop_id {
            return false;
        }
        match self.role {
            Role::Admin | Role::Staff => true,
            Role::Farmer => self.member_id == owner.farmer_id,
        }
    }

    /// Whether the actor may see something owned by `owner`. The same as managing, today: there is
    /// no read-only role yet.
    pub fn may_see(&self, owner: Owner) -> bool {
        self.may_manage(owner)
    }

    /// Whether the actor may create a member with `role` (and pairing codes for one).
    pub fn may_manage_members_with(&self, role: Role) -> bool {
        matches!((self.role, role), (Role::Admin, _) | (Role::Staff, Role::Farmer))
    }

    /// Whether the actor manages the co-op's shared things: pickup points, devices of others.
    pub fn is_coop_staff(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Staff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn member(n: u128) -> MemberId {
        MemberId(Uuid::from_u128(n))
    }

    fn coop(n: u128) -> CoopId {
        CoopId(Uuid::from_u128(n))
    }

    #[test]
    fn every_role_against_every_kind_of_owner() {
        let own = Owner { coop_id: coop(1), farmer_id: member(10) };
        let neighbour = Owner { coop_id: coop(1), farmer_id: member(11) };
        let other_coop = Owner { coop_id: coop(2), farmer_id: member(10) };
        let cases = [
            (Role::Farmer, [true, false, false]),
            (Role::Staff, [true, true, false]),
            (Role::Admin, [true, true, false]),
        ];
        for (role, expected) in cases {
            let actor = Actor { member_id: member(10), coop_id: coop(1), role };
            let got = [own, neighbour, other_coop].map(|owner| actor.may_manage(owner));
            assert_eq!(got, expected, "{role:?}");
        }
    }

    #[test]
    fn only_admins_manage_staff_and_admins() {
        let actor = |role| Actor { member_id: member(1), coop_id: coop(1), role };
        assert!(actor(Role::Admin).may_manage_members_with(Role::Staff));
        assert!(actor(Role::Admin).may_manage_members_with(Role::Admin));
        assert!(actor(Role::Staff).may_manage_members_with(Role::Farmer));
        assert!(!actor(Role::Staff).may_manage_members_with(Role::Staff));
        assert!(!actor(Role::Farmer).may_manage_members_with(Role::Farmer));
    }
}

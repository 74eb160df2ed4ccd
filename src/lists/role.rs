//! What a member may do in a list.

use crate::db::StoredByName;

/// A member's role, from most to least allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Renames, deletes and shares the list; one per list.
    Owner,
    /// Adds, changes, assigns and deletes its tasks.
    Editor,
    /// Sees the list and its tasks.
    Viewer,
}

impl StoredByName for Role {
    const NAMES: &'static [(Self, &'static str)] = &[
        (Self::Owner, "owner"),
        (Self::Editor, "editor"),
        (Self::Viewer, "viewer"),
    ];
}

impl Role {
    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Self) -> bool {
        self <= needed
    }

    /// The roles that may do what `needed` may, by their stored names.
    pub fn at_least(needed: Self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .filter(move |(role, _)| role.allows(needed))
            .map(|(_, name)| *name)
    }

    /// A role read from the database; an unknown name counts as the least.
    pub fn read(name: &str) -> Self {
        Self::from_stored_name(name).unwrap_or(Self::Viewer)
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn every_role_is_stored_under_a_name_of_its_own() {
        let every = [Role::Owner, Role::Editor, Role::Viewer];
        crate::db::assert_stored_names(&every, |role| match role {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        });
    }

    #[test]
    fn a_role_allows_what_the_roles_below_it_do() {
        assert!(Role::Owner.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Editor));
        assert!(!Role::Viewer.allows(Role::Editor));
        assert_eq!(
            Role::at_least(Role::Editor).collect::<Vec<_>>(),
            ["owner", "editor"]
        );
    }
}

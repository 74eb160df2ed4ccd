//! Limits on the shape of an operation, checked right after parsing, before
//! validation and before any resolver runs: depth, aliases, directives per
//! field, fragment nesting, and at most one authentication mutation.
//!
//! The [`Gateway`](super::gateway::Gateway) runs the check before an
//! operation reaches the schema, whatever transport brought it.
//!
//! One walk over the document does it all. Each fragment is measured once
//! (memoised), so a document that spreads fragments many times over cannot
//! make the walk itself expensive, and a fragment cycle stops it.

use std::collections::HashMap;

use async_graphql::{
    ServerError, ServerResult,
    parser::{
        Pos, Positioned,
        types::{ExecutableDocument, OperationType, Selection, SelectionSet},
    },
};

use super::errors::server_error;
use crate::error::AppError;

/// Deepest nesting of fields in an operation.
pub const MAX_DEPTH: usize = 10;
/// Deepest nesting under `__schema` or `__type`: the introspection query of
/// GraphiQL and code generators nests `ofType` about 13 deep.
pub const MAX_INTROSPECTION_DEPTH: usize = 15;
/// Most aliased fields in an operation, counting every use of a fragment.
pub const MAX_ALIASES: usize = 50;
/// Most directives on one field or fragment.
pub const MAX_DIRECTIVES: usize = 5;
/// Deepest nesting of fragment spreads.
pub const MAX_FRAGMENT_NESTING: usize = 8;
/// Deepest recursion the parser and validator may enter (nested lists,
/// objects and selections alike).
pub const MAX_RECURSION: usize = 32;
/// Mutations that check a password or a token: aliases must not let one
/// request make many guesses.
pub const AUTH_MUTATIONS: [&str; 28] = [
    "signup",
    "login",
    "refreshToken",
    "changePassword",
    "deleteAccount",
    "requestPasswordReset",
    "resetPassword",
    "verifyEmail",
    "resendVerificationEmail",
    "changeEmail",
    "revokeSession",
    "revokeOtherSessions",
    "startTotpSetup",
    "confirmTotpSetup",
    "disableTotp",
    "regenerateRecoveryCodes",
    "completeLogin",
    "startPasskeyRegistration",
    "finishPasskeyRegistration",
    "removePasskey",
    "startPasskeyLogin",
    "finishPasskeyLogin",
    "acceptInvitation",
    "startExternalLogin",
    "finishExternalLogin",
    "startIdentityLink",
    "finishIdentityLink",
    "unlinkIdentity",
];

/// What a selection set costs, relative to where it stands.
#[derive(Clone, Copy, Default)]
struct Cost {
    depth: usize,
    introspection_depth: usize,
    aliases: usize,
    /// Authentication mutations selected at this level.
    auth: usize,
}

impl Cost {
    fn merge(&mut self, other: Self) {
        self.depth = self.depth.max(other.depth);
        self.introspection_depth = self.introspection_depth.max(other.introspection_depth);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.auth = self.auth.saturating_add(other.auth);
    }
}

/// Checks every operation of `document`; the first limit exceeded is the
/// error.
pub fn check(document: &ExecutableDocument) -> ServerResult<()> {
    let mut measure = Measure {
        document,
        fragments: HashMap::new(),
    };
    for (_, operation) in document.operations.iter() {
        let cost = measure.selection_set(&operation.node.selection_set.node, 0, 0)?;
        let pos = operation.pos;
        if cost.depth > MAX_DEPTH {
            return Err(over_limit(
                pos,
                format!(
                    "the operation is nested {} deep; at most {MAX_DEPTH} is allowed",
                    cost.depth
                ),
            ));
        }
        if cost.introspection_depth > MAX_INTROSPECTION_DEPTH {
            return Err(over_limit(
                pos,
                format!("introspection nested deeper than {MAX_INTROSPECTION_DEPTH}"),
            ));
        }
        if cost.aliases > MAX_ALIASES {
            return Err(over_limit(
                pos,
                format!(
                    "the operation has {} aliases; at most {MAX_ALIASES} are allowed",
                    cost.aliases
                ),
            ));
        }
        if operation.node.ty == OperationType::Mutation && cost.auth > 1 {
            return Err(over_limit(
                pos,
                format!(
                    "at most one of {} may run in one request",
                    AUTH_MUTATIONS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Measures selection sets, remembering what each fragment costs.
struct Measure<'a> {
    document: &'a ExecutableDocument,
    /// Fragments measured so far; `None` while one is being measured.
    fragments: HashMap<&'a str, Option<Cost>>,
}

impl<'a> Measure<'a> {
    /// The cost of `set`, found `level` selection sets deep; a walk deeper
    /// than the parser's own bound stops there rather than exhaust the stack.
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        nesting: usize,
        level: usize,
    ) -> ServerResult<Cost> {
        let mut cost = Cost::default();
        for selection in &set.items {
            if level >= MAX_RECURSION {
                return Err(over_limit(
                    selection.pos,
                    format!(
                        "the operation is nested more than {MAX_RECURSION} deep; \
                         at most {MAX_DEPTH} is allowed"
                    ),
                ));
            }
            if selection.node.directives().len() > MAX_DIRECTIVES {
                return Err(over_limit(
                    selection.pos,
                    format!("at most {MAX_DIRECTIVES} directives are allowed on a field"),
                ));
            }
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let children =
                        self.selection_set(&field.selection_set.node, nesting, level + 1)?;
                    let is_introspection_root = name == "__schema" || name == "__type";
                    let (depth, introspection_depth) = if is_introspection_root {
                        (0, 1 + children.depth.max(children.introspection_depth))
                    } else {
                        let nested = children.introspection_depth;
                        (1 + children.depth, if nested > 0 { 1 + nested } else { 0 })
                    };
                    cost.merge(Cost {
                        depth,
                        introspection_depth,
                        aliases: children
                            .aliases
                            .saturating_add(usize::from(field.alias.is_some())),
                        auth: usize::from(AUTH_MUTATIONS.contains(&name)),
                    });
                }
                Selection::InlineFragment(fragment) => {
                    cost.merge(self.selection_set(
                        &fragment.node.selection_set.node,
                        nesting,
                        level + 1,
                    )?);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    cost.merge(self.fragment(name, spread, nesting + 1, level + 1)?);
                }
            }
        }
        Ok(cost)
    }

    fn fragment(
        &mut self,
        name: &'a str,
        spread: &Positioned<impl Sized>,
        nesting: usize,
        level: usize,
    ) -> ServerResult<Cost> {
        if nesting > MAX_FRAGMENT_NESTING {
            return Err(over_limit(
                spread.pos,
                format!("fragments nested deeper than {MAX_FRAGMENT_NESTING}"),
            ));
        }
        match self.fragments.get(name) {
            Some(Some(cost)) => return Ok(*cost),
            Some(None) => {
                return Err(over_limit(
                    spread.pos,
                    format!("fragment \"{name}\" spreads itself"),
                ));
            }
            None => {}
        }
        // An unknown fragment is left for validation to report.
        let Some(definition) = self.document.fragments.get(name) else {
            return Ok(Cost::default());
        };
        self.fragments.insert(name, None);
        let cost = self.selection_set(&definition.node.selection_set.node, nesting, level)?;
        self.fragments.insert(name, Some(cost));
        Ok(cost)
    }
}

fn over_limit(pos: Pos, message: String) -> ServerError {
    server_error(AppError::bad_request(message), Some(pos))
}

#[cfg(test)]
mod tests {
    use async_graphql::{
        OutputType,
        registry::{MetaField, MetaInputValue, MetaType, Registry},
    };

    use super::AUTH_MUTATIONS;
    use crate::graphql::MutationRoot;

    /// Mutations that are not authentication mutations, each for a reason:
    /// the task, list and profile mutations guess at nothing (ids of what
    /// the viewer cannot see answer as if absent), and `logout` of an
    /// unknown refresh token answers as of a known one, so it tells nothing.
    const OTHER_MUTATIONS: [&str; 27] = [
        "addReminder",
        "removeReminder",
        "createCalendarFeed",
        "revokeCalendarFeeds",
        "addComment",
        "editComment",
        "deleteComment",
        "createTask",
        "updateTask",
        "moveTask",
        "createLabel",
        "updateLabel",
        "deleteLabel",
        "deleteTask",
        "assignTask",
        "logout",
        "updateProfile",
        "createList",
        "renameList",
        "deleteList",
        "inviteToList",
        "revokeInvitation",
        "declineInvitation",
        "changeMemberRole",
        "removeMember",
        "leaveList",
        "transferListOwnership",
    ];

    fn takes_secret(registry: &Registry, arguments: &[&MetaInputValue]) -> bool {
        arguments.iter().any(|argument| {
            let named = argument.ty.trim_matches(|c| matches!(c, '[' | ']' | '!'));
            argument.is_secret
                || matches!(
                    registry.types.get(named),
                    Some(MetaType::InputObject { input_fields, .. })
                        if takes_secret(registry, &input_fields.values().collect::<Vec<_>>())
                )
        })
    }

    #[test]
    fn every_mutation_is_placed_and_every_one_taking_a_secret_counts_toward_the_rule() {
        let mut registry = Registry::default();
        <MutationRoot as OutputType>::create_type_info(&mut registry);
        let Some(MetaType::Object { fields, .. }) = registry.types.get("Mutation") else {
            panic!("the schema has mutations");
        };
        for (name, field) in fields {
            let counted = AUTH_MUTATIONS.contains(&name.as_str());
            assert!(
                counted != OTHER_MUTATIONS.contains(&name.as_str()),
                "{name}: put it in AUTH_MUTATIONS (one per request) or, with a reason, \
                 in OTHER_MUTATIONS"
            );
            let MetaField { args, .. } = field;
            if takes_secret(&registry, &args.values().collect::<Vec<_>>()) {
                assert!(
                    counted || name == "logout",
                    "{name} takes a secret: one request must not guess at it many times"
                );
            }
        }
        for name in AUTH_MUTATIONS {
            assert!(fields.contains_key(name), "{name} is not a mutation");
        }
    }
}

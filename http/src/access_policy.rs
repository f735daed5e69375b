//! Access policies (Pulp's `AccessPolicy`, drf-access-policy's statements): which request a
//! viewset allows, as data.
//!
//! A policy is a list of statements — actions, principals, `allow` or `deny`, and conditions
//! naming permission checks — plus the roles a creator gets (`creation_hooks`) and whether its
//! lists are scoped to what the user may view (`queryset_scoping`). Core and each plugin declare
//! their viewsets' defaults ([`ViewSetPolicy`]); the database holds the current ones (an admin
//! may customize them through `access_policies/`, and `reset/` restores the default).
//!
//! Deciding is split as drf-access-policy splits it: [`Policy::candidates`] (pure) keeps the
//! statements whose principal and action match; the caller evaluates each one's conditions
//! (they read roles from the database) and [`decide`] (pure) applies the rule: at least one
//! statement holds and none of those that hold denies. A view without a policy admits only
//! superusers, as in Pulp.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ApiError;

/// One viewset's declared default policy.
#[derive(Clone, Copy, Debug)]
pub struct ViewSetPolicy {
    /// Pulp's `viewset_name` (the URL pattern: `uploads`, `content/file/files`).
    pub viewset_name: &'static str,
    /// The PRN type of its objects (object-level permissions are checked on them).
    pub prn_type: &'static str,
    /// Its model's name (404 messages).
    pub model: &'static str,
    /// The permission that lets a user see every object in lists (Pulp's
    /// `queryset_filtering_required_permission`); without it, lists show the objects the user
    /// holds it on.
    pub view_permission: &'static str,
    /// What its `scope_queryset` narrows lists and reads to.
    pub scoping: Scoping,
    /// `DEFAULT_ACCESS_POLICY`, as JSON text.
    pub default: &'static str,
}

/// What a viewset's `scope_queryset` (when its policy names one) lets a user see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scoping {
    /// The objects the user holds the view permission on, all of them with it model-wide
    /// (Pulp's `NamedModelViewSet.scope_queryset`).
    ViewPermission,
    /// Content in a repository the user may see, under any repository type's policy (Pulp's
    /// `BaseContentViewSet.scope_queryset`): content in no repository only superusers see.
    Repositories,
    /// A master model's list: the union of what each of its types' own policies shows (Pulp's
    /// master `scope_queryset`, which asks every child viewset); a type without a policy shows
    /// nothing.
    Children,
}

/// A string or a list of strings, as statements write them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Default for OneOrMany {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl OneOrMany {
    /// The items.
    pub fn items(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Actions (`list`, `create`, `*`, `<method:get>`, `<safe_methods>`).
    pub action: OneOrMany,
    /// Principals (`*`, `authenticated`, `anonymous`, `admin`, `staff`, `id:<n>`,
    /// `group:<name>`).
    pub principal: OneOrMany,
    /// `allow` or `deny`.
    pub effect: Effect,
    /// Conditions that must all hold (`has_model_perms:core.add_upload`).
    #[serde(default)]
    pub condition: OneOrMany,
    /// Boolean expressions over conditions (`a and (b or not c)`), all of which must hold.
    #[serde(default)]
    pub condition_expression: OneOrMany,
}

/// A statement's effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Allows.
    Allow,
    /// Denies (and wins).
    Deny,
}

/// A whole policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Statements.
    pub statements: Vec<Statement>,
    /// Run when an object is created: `{"function": "add_roles_for_object_creator",
    /// "parameters": {"roles": …}}`.
    #[serde(default)]
    pub creation_hooks: Vec<Value>,
    /// `{"function": "scope_queryset"}` when lists are scoped.
    #[serde(default)]
    pub queryset_scoping: Option<Value>,
}

/// Who is asking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    /// Logged in at all.
    pub authenticated: bool,
    /// A superuser (`admin`; passes every permission condition).
    pub superuser: bool,
    /// Staff (`staff`).
    pub staff: bool,
    /// The user's id (`id:<n>`).
    pub id: Option<i64>,
    /// The user's groups (`group:<name>`).
    pub groups: Vec<String>,
}

impl Statement {
    fn matches_principal(&self, who: &Principal) -> bool {
        self.principal.items().iter().any(|p| match p.as_str() {
            "*" => true,
            "admin" => who.superuser,
            "staff" => who.staff,
            "authenticated" => who.authenticated,
            "anonymous" => !who.authenticated,
            p => {
                if let Some(id) = p.strip_prefix("id:") {
                    who.id.is_some_and(|i| i.to_string() == id)
                } else if let Some(g) = p.strip_prefix("group:") {
                    who.groups.iter().any(|x| x == g)
                } else {
                    false
                }
            }
        })
    }

    fn matches_action(&self, action: &str, method: &str) -> bool {
        let safe = matches!(method, "GET" | "HEAD" | "OPTIONS");
        let tag = format!("<method:{}>", method.to_ascii_lowercase());
        self.action
            .items()
            .iter()
            .any(|a| a == action || a == "*" || *a == tag || (a == "<safe_methods>" && safe))
    }

    /// Every condition name this statement needs, from both forms (for evaluation up front).
    pub fn condition_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.condition.items().to_vec();
        for e in self.condition_expression.items() {
            out.extend(
                tokens(e)
                    .into_iter()
                    .filter(|t| !matches!(t.as_str(), "and" | "or" | "not" | "(" | ")")),
            );
        }
        out
    }

    /// Whether its conditions hold, given each condition's value.
    pub fn holds(&self, value: &impl Fn(&str) -> bool) -> bool {
        self.condition.items().iter().all(|c| value(c))
            && self
                .condition_expression
                .items()
                .iter()
                .all(|e| eval_expression(e, value).unwrap_or(false))
    }
}

impl Policy {
    /// The statements that apply to `who` doing `action` (by HTTP `method`).
    pub fn candidates(&self, who: &Principal, action: &str, method: &str) -> Vec<&Statement> {
        self.statements
            .iter()
            .filter(|s| s.matches_principal(who) && s.matches_action(action, method))
            .collect()
    }

    /// Whether a statement's principal names a group (`group:<name>`).
    pub fn names_groups(&self) -> bool {
        self.statements
            .iter()
            .any(|s| s.principal.items().iter().any(|p| p.starts_with("group:")))
    }

    /// The roles `add_roles_for_object_creator` gives a creator.
    pub fn creator_roles(&self) -> Vec<String> {
        pith_entities::access_policies::creator_roles(&self.creation_hooks)
    }
}

/// drf-access-policy's rule over the candidates whose conditions were evaluated: allowed when
/// at least one holds and none of those that hold denies.
pub fn decide(held: &[(&Statement, bool)]) -> bool {
    let holding: Vec<&Statement> = held.iter().filter(|(_, h)| *h).map(|(s, _)| *s).collect();
    !holding.is_empty() && holding.iter().all(|s| s.effect == Effect::Allow)
}

fn tokens(e: &str) -> Vec<String> {
    e.replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Evaluates `a and (b or not c)`; `None` when it does not parse.
fn eval_expression(e: &str, value: &impl Fn(&str) -> bool) -> Option<bool> {
    fn or(t: &[String], i: &mut usize, v: &dyn Fn(&str) -> bool) -> Option<bool> {
        let mut r = and(t, i, v)?;
        while t.get(*i).map(String::as_str) == Some("or") {
            *i += 1;
            let rhs = and(t, i, v)?;
            r = r || rhs;
        }
        Some(r)
    }
    fn and(t: &[String], i: &mut usize, v: &dyn Fn(&str) -> bool) -> Option<bool> {
        let mut r = not(t, i, v)?;
        while t.get(*i).map(String::as_str) == Some("and") {
            *i += 1;
            let rhs = not(t, i, v)?;
            r = r && rhs;
        }
        Some(r)
    }
    fn not(t: &[String], i: &mut usize, v: &dyn Fn(&str) -> bool) -> Option<bool> {
        match t.get(*i).map(String::as_str)? {
            "not" => {
                *i += 1;
                Some(!not(t, i, v)?)
            }
            "(" => {
                *i += 1;
                let r = or(t, i, v)?;
                (t.get(*i).map(String::as_str) == Some(")")).then_some(())?;
                *i += 1;
                Some(r)
            }
            "and" | "or" | ")" => None,
            name => {
                *i += 1;
                Some(v(name))
            }
        }
    }
    let t = tokens(e);
    let mut i = 0;
    let r = or(&t, &mut i, value)?;
    (i == t.len()).then_some(r)
}

/// The action a viewset's operation performs, from its operationId (`uploads_read` with
/// viewset `uploads` is `retrieve`).
pub fn action_of(viewset_name: &str, operation_id: &str) -> Option<String> {
    let prefix = format!("{}_", viewset_name.replace('/', "_"));
    let rest = operation_id.strip_prefix(&prefix)?;
    Some(
        match rest {
            "read" => "retrieve",
            "delete" => "destroy",
            other => other,
        }
        .to_owned(),
    )
}

/// How long a node trusts its copy of the policies before re-reading them (another node may
/// have customized one).
pub const REFRESH: Duration = Duration::from_secs(2);

/// Policies by viewset name.
pub type PolicyMap = Arc<HashMap<String, Arc<Policy>>>;

/// The current policies, by viewset name, re-read from the database at most every [`REFRESH`].
#[derive(Debug, Default)]
pub struct Policies {
    current: RwLock<Option<(Instant, PolicyMap)>>,
}

impl Policies {
    /// Policy `viewset_name` (`None`: it has none).
    pub async fn get(
        &self,
        db: &pith_entities::Db,
        viewset_name: &str,
    ) -> Result<Option<Arc<Policy>>, ApiError> {
        let fresh = self.current.read().ok().and_then(|c| {
            c.as_ref()
                .filter(|(t, _)| t.elapsed() < REFRESH)
                .map(|(_, m)| m.clone())
        });
        let map = match fresh {
            Some(m) => m,
            None => self.reload(db).await?,
        };
        Ok(map.get(viewset_name).cloned())
    }

    /// Re-reads every policy now (after a change made here).
    pub async fn reload(&self, db: &pith_entities::Db) -> Result<PolicyMap, ApiError> {
        let mut map = HashMap::new();
        for row in pith_entities::access_policies::all(db).await? {
            match serde_json::from_str::<Policy>(&row.policy_json()) {
                Ok(p) => {
                    map.insert(row.viewset_name.clone(), Arc::new(p));
                }
                // A policy that does not parse admits nobody but superusers (no statements).
                Err(e) => {
                    tracing::error!(viewset = %row.viewset_name, error = %e, "unreadable access policy");
                    map.insert(row.viewset_name.clone(), Arc::new(Policy::default()));
                }
            }
        }
        let map = Arc::new(map);
        if let Ok(mut c) = self.current.write() {
            *c = Some((Instant::now(), map.clone()));
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        serde_json::from_str(
            r#"{"statements": [
                {"action": ["list", "retrieve"], "principal": "authenticated", "effect": "allow"},
                {"action": ["create"], "principal": "authenticated", "effect": "allow",
                 "condition": "has_model_perms:core.add_upload"},
                {"action": "*", "principal": "group:blocked", "effect": "deny"},
                {"action": ["destroy"], "principal": "admin", "effect": "allow",
                 "condition_expression": "a and (b or not c)"}
            ], "creation_hooks": [{"function": "add_roles_for_object_creator",
                                   "parameters": {"roles": "core.upload_owner"}}],
               "queryset_scoping": {"function": "scope_queryset"}}"#,
        )
        .unwrap()
    }

    fn run(
        p: &Policy,
        who: &Principal,
        action: &str,
        method: &str,
        cond: &dyn Fn(&str) -> bool,
    ) -> bool {
        let held: Vec<(&Statement, bool)> = p
            .candidates(who, action, method)
            .into_iter()
            .map(|s| (s, s.holds(&cond)))
            .collect();
        decide(&held)
    }

    #[test]
    fn statements_decide_as_drf_access_policy_does() {
        let p = policy();
        let user = Principal {
            authenticated: true,
            id: Some(7),
            ..Default::default()
        };
        let yes = |_: &str| true;
        let no = |_: &str| false;
        assert!(run(&p, &user, "list", "GET", &no));
        assert!(
            !run(&p, &Principal::default(), "list", "GET", &yes),
            "anonymous"
        );
        assert!(run(&p, &user, "create", "POST", &yes));
        assert!(!run(&p, &user, "create", "POST", &no));
        // No statement for the action: refused, superuser or not.
        let admin = Principal {
            authenticated: true,
            superuser: true,
            ..Default::default()
        };
        assert!(!run(&p, &admin, "update", "PUT", &yes));
        // Deny wins.
        let blocked = Principal {
            groups: vec!["blocked".into()],
            ..user.clone()
        };
        assert!(!run(&p, &blocked, "list", "GET", &yes));
        // Expressions.
        let only_a = |c: &str| c == "a";
        assert!(run(&p, &admin, "destroy", "DELETE", &only_a));
        let a_and_c = |c: &str| c == "a" || c == "c";
        assert!(!run(&p, &admin, "destroy", "DELETE", &a_and_c));
        assert_eq!(p.creator_roles(), ["core.upload_owner"]);
        assert_eq!(eval_expression("a and", &yes), None);
        assert_eq!(p.statements[3].condition_names(), ["a", "b", "c"]);
    }

    #[test]
    fn actions_from_operation_ids() {
        assert_eq!(
            action_of("uploads", "uploads_read").as_deref(),
            Some("retrieve")
        );
        assert_eq!(
            action_of("uploads", "uploads_delete").as_deref(),
            Some("destroy")
        );
        assert_eq!(
            action_of("uploads", "uploads_commit").as_deref(),
            Some("commit")
        );
        assert_eq!(
            action_of("content/file/files", "content_file_files_upload").as_deref(),
            Some("upload")
        );
        assert_eq!(action_of("uploads", "tasks_list"), None);
    }
}

use std::collections::HashMap;

use super::*;

/// Providers `local` (and the catalog's `openai`), and aliases by folded name.
#[derive(Default)]
struct Known {
    aliases: HashMap<String, (Ulid, String, Vec<String>)>,
}

impl Known {
    fn with(mut self, alias: &str, target: &str) -> Known {
        self.aliases.insert(
            fold(alias),
            (next_id(), alias.to_owned(), vec![fold(target)]),
        );
        self
    }
}

impl KnownNames for Known {
    fn provider_id(&self, slug: &str) -> bool {
        matches!(slug, "local" | "openai")
    }

    fn alias_named(&self, folded: &str, except: Ulid) -> Option<String> {
        self.aliases
            .get(folded)
            .filter(|(id, ..)| *id != except)
            .map(|(_, name, _)| name.clone())
    }

    fn pointing_at(&self, folded: &str, except: Ulid) -> Option<String> {
        self.aliases
            .values()
            .find(|(id, _, points)| *id != except && points.iter().any(|p| p == folded))
            .map(|(_, name, _)| name.clone())
    }
}

fn alias(name: &str, target: &str, fallbacks: &[&str]) -> ModelAlias {
    NewModelAlias {
        alias: name.into(),
        target: target.into(),
        fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
        description: None,
        metadata: None,
    }
    .into_alias(10, "admin")
}

fn violations(r: Result<(), AliasRefusal>) -> std::collections::BTreeMap<String, String> {
    match r {
        Err(AliasRefusal::Invalid(v)) => v.to_map(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_body_reports_every_shape_violation_at_once() {
    let body = CreateModelAlias {
        alias: Some("has space".into()),
        target: None,
        fallbacks: Some(vec!["ok".into(), String::new(), "a\tb".into()]),
        description: Some("x\n".into()),
        metadata: None,
    };
    let map = NewModelAlias::parse(body).err().unwrap().to_map();
    assert_eq!(
        map.keys().collect::<Vec<_>>(),
        [
            "alias",
            "description",
            "fallbacks[1]",
            "fallbacks[2]",
            "target"
        ]
    );
    let many = CreateModelAlias {
        alias: Some("a".into()),
        target: Some("b".into()),
        fallbacks: Some(vec!["m".into(); MAX_ALIAS_FALLBACKS + 1]),
        ..CreateModelAlias::default()
    };
    let map = NewModelAlias::parse(many).err().unwrap().to_map();
    assert_eq!(map["fallbacks"], "must have at most 16 entries (got 17)");
}

#[test]
fn a_patch_cannot_clear_alias_or_target_and_null_fallbacks_are_none() {
    let body = UpdateModelAlias {
        alias: Some(None),
        target: Some(None),
        ..UpdateModelAlias::default()
    };
    let map = ModelAliasChanges::parse(body).err().unwrap().to_map();
    assert_eq!(map["alias"], "cannot be cleared");
    assert_eq!(map["target"], "cannot be cleared");
    let body = UpdateModelAlias {
        fallbacks: Some(None),
        ..UpdateModelAlias::default()
    };
    let changes = ModelAliasChanges::parse(body).unwrap();
    let next = changes.apply(&alias("a", "b", &["c"]), 20, "ci").unwrap();
    assert!(next.fallbacks.is_empty());
    assert_eq!(
        (
            next.version,
            next.updated_at_ms,
            next.last_updated_by.as_str()
        ),
        (2, 20, "ci")
    );
    assert!(
        ModelAliasChanges::default()
            .apply(&next, 30, "ci")
            .is_none()
    );
}

#[test]
fn an_alias_cannot_shadow_a_qualified_name() {
    let known = Known::default();
    let map = violations(check_against(&alias("local:x", "m", &[]), &known));
    assert!(map["alias"].contains("`local`"), "{map:?}");
    assert!(
        violations(check_against(&alias("openai:gpt-4o", "m", &[]), &known)).contains_key("alias")
    );
    // An unknown prefix is a bare name, as calls read it.
    assert_eq!(
        check_against(&alias("llama3.1:8b", "local:m", &["nobody:x"]), &known),
        Ok(())
    );
}

#[test]
fn no_alias_points_at_an_alias_either_way() {
    let known = Known::default().with("GPT-4o", "local:qwen");
    let map = violations(check_against(
        &alias("x", "gpt-4o", &["m", "Gpt-4O"]),
        &known,
    ));
    assert!(map["target"].contains("`GPT-4o`"), "{map:?}");
    assert!(map["fallbacks[1]"].contains("alias"), "{map:?}");
    assert!(!map.contains_key("fallbacks[0]"));
    let map = violations(check_against(&alias("LOCAL:QWEN", "m", &[]), &known));
    assert!(map["alias"].contains("target or a fallback"), "{map:?}");
    let map = violations(check_against(&alias("me", "ME", &["local:"]), &known));
    assert_eq!(map["target"], "must not be the alias itself");
    assert_eq!(map["fallbacks[0]"], "names no model after `local:`");
}

#[test]
fn a_name_taken_in_any_case_is_a_conflict_but_not_with_itself() {
    let known = Known::default().with("gpt-4o", "local:qwen");
    assert_eq!(
        check_against(&alias("GPT-4O", "m", &[]), &known),
        Err(AliasRefusal::Taken("gpt-4o".into()))
    );
    let mut own = alias("GPT-4O", "local:qwen", &[]);
    own.id = known.aliases["gpt-4o"].0;
    assert_eq!(check_against(&own, &known), Ok(()));
}

//! Access tokens: every way a token can be wrong is `UNAUTHENTICATED`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{CHANGE_PASSWORD, JWT_SECRET, PASSWORD, assert_error, spawn_app};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims as the server issues them, for `user_id`.
fn claims(user_id: &str) -> Value {
    json!({ "sub": user_id, "iat": now(), "exp": now() + 600, "iss": "taskql",
            "aud": "taskql", "jti": uuid::Uuid::now_v7(), "pwv": 0 })
}

fn sign(claims: &Value, algorithm: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn with(user_id: &str, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = claims(user_id);
    change(claims.as_object_mut().expect("object"));
    claims
}

#[tokio::test]
async fn a_token_made_like_the_servers_own_is_accepted() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let token = sign(&claims(&session.user_id), Algorithm::HS256, JWT_SECRET);
    assert_eq!(
        app.me(&token).await["data"]["me"]["email"],
        "ada@example.com"
    );
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let id = session.user_id.as_str();
    // A character in the middle of the signature: the last one may only
    // carry padding bits, which a decoder ignores.
    let tampered = {
        let (signed, signature) = session.access_token.rsplit_once('.').expect("three parts");
        let mut signature = signature.to_owned().into_bytes();
        let middle = signature.len() / 2;
        signature[middle] = if signature[middle] == b'A' {
            b'B'
        } else {
            b'A'
        };
        format!("{signed}.{}", String::from_utf8(signature).expect("base64"))
    };
    let unsigned = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims(id).to_string());
        format!("{header}.{body}.")
    };
    let cases = [
        (tampered, "tampered signature"),
        (unsigned, "alg: none"),
        (
            sign(&claims(id), Algorithm::HS512, JWT_SECRET),
            "wrong algorithm",
        ),
        (
            sign(
                &claims(id),
                Algorithm::HS256,
                "another-secret-that-is-32-bytes-long",
            ),
            "other key",
        ),
        (
            sign(
                &with(id, |c| {
                    c.insert("exp".into(), json!(now() - 60));
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "expired",
        ),
        (
            sign(
                &with(id, |c| {
                    c.insert("nbf".into(), json!(now() + 300));
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "not yet valid",
        ),
        (
            sign(
                &with(id, |c| {
                    c.insert("aud".into(), json!("someone-else"));
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "wrong aud",
        ),
        (
            sign(
                &with(id, |c| {
                    c.insert("iss".into(), json!("someone-else"));
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "wrong iss",
        ),
        (
            sign(
                &with(id, |c| {
                    c.remove("exp");
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "missing exp",
        ),
        (
            sign(
                &with(id, |c| {
                    c.remove("iat");
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "missing iat",
        ),
        (
            sign(
                &with(id, |c| {
                    c.remove("sub");
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "missing sub",
        ),
        (
            sign(
                &with(id, |c| {
                    c.insert("sub".into(), json!(uuid::Uuid::now_v7()));
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "no such user",
        ),
        (
            sign(
                &with(id, |c| {
                    c.insert("pwv".into(), json!(-1));
                }),
                Algorithm::HS256,
                JWT_SECRET,
            ),
            "older password",
        ),
        ("not.a.jwt".to_owned(), "garbage"),
        (String::new(), "empty"),
    ];
    for (token, why) in cases {
        let response = app.graphql("{ me { id } }", json!({}), Some(&token)).await;
        assert_eq!(
            response["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{why}: {response}"
        );
        assert!(response["data"].is_null(), "{why}: {response}");
    }
}

#[tokio::test]
async fn clock_leeway_is_at_most_five_seconds() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let id = session.user_id.as_str();
    let just_expired = with(id, |c| {
        c.insert("exp".into(), json!(now() - 2));
    });
    let long_expired = with(id, |c| {
        c.insert("exp".into(), json!(now() - 10));
    });
    let just_expired = app
        .me(&sign(&just_expired, Algorithm::HS256, JWT_SECRET))
        .await;
    assert_eq!(
        just_expired["data"]["me"]["id"], id,
        "within leeway: {just_expired}"
    );
    assert_error(
        &app.me(&sign(&long_expired, Algorithm::HS256, JWT_SECRET))
            .await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn a_token_accepted_before_is_refused_once_it_expires() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let id = session.user_id.as_str();
    // Inside the leeway now, past it two seconds later.
    let expires = now() - 4;
    let token = sign(
        &with(id, |c| {
            c.insert("exp".into(), json!(expires));
        }),
        Algorithm::HS256,
        JWT_SECRET,
    );
    let accepted = app.me(&token).await;
    assert_eq!(
        accepted["data"]["me"]["id"], id,
        "within leeway: {accepted}"
    );
    while now() <= expires + 5 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_error(&app.me(&token).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_token_of_a_deleted_user_is_unauthenticated() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let deleted = app
        .graphql(
            "mutation($p: String!) { deleteAccount(password: $p) }",
            json!({ "p": PASSWORD }),
            Some(&session.access_token),
        )
        .await;
    assert_eq!(deleted["data"]["deleteAccount"], true, "{deleted}");
    assert_error(&app.me(&session.access_token).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_bad_token_does_not_stand_in_the_way_of_public_operations() {
    let app = spawn_app().await;
    let response = app
        .graphql(
            "mutation($i: SignupInput!) { signup(input: $i) { email } }",
            json!({ "i": { "email": "ada@example.com", "password": PASSWORD } }),
            Some("garbage"),
        )
        .await;
    assert_eq!(
        response["data"]["signup"]["email"], "ada@example.com",
        "{response}"
    );
}

#[tokio::test]
async fn tokens_carry_the_specified_claims() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let mut parts = session.access_token.split('.');
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().expect("claims"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["alg"], "HS256");
    assert_eq!(claims["sub"], session.user_id.as_str());
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some("taskql"), Some("taskql"))
    );
    let (iat, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["exp"].as_i64().expect("exp"),
    );
    assert_eq!(exp - iat, 1800);
    assert!(
        claims["jti"]
            .as_str()
            .is_some_and(|jti| uuid::Uuid::parse_str(jti).is_ok())
    );
}

#[tokio::test]
async fn a_token_from_before_a_password_change_cannot_list_or_read_tasks() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let token = session.access_token.as_str();
    let id = app.task_id(token, "Still here").await;
    let changed = app
        .graphql(
            CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": PASSWORD, "newPassword": "a brand new password" } }),
            Some(token),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");

    for (query, variables) in [
        ("{ tasks { edges { node { id } } } }", json!({})),
        ("{ tasks(last: 5) { totalCount } }", json!({})),
        (
            "query($id: ID!) { task(id: $id) { id } }",
            json!({ "id": id }),
        ),
    ] {
        let response = app.graphql(query, variables, Some(token)).await;
        assert_error(&response, "UNAUTHENTICATED");
        assert!(response["data"].is_null(), "{query}: {response}");
    }
}

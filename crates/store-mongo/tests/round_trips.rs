//! Which commands each operation sends, seen through the driver's command monitoring: the
//! round trips the README states, and the protocol steps that make `rotate` and the
//! binding `apply` safe against a revocation (which no timing-based race test hits
//! reliably).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use session_core::{
    Timestamp,
    store::{
        ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreKey,
    },
};
use store_mongo::MongoStore;
use store_mongo::mongodb::Client;
use store_mongo::mongodb::bson::{Bson, Document};
use store_mongo::mongodb::event::EventHandler;
use store_mongo::mongodb::event::command::CommandEvent;
use store_mongo::mongodb::options::ClientOptions;

/// The commands started so far: name and body.
type Log = Mutex<Vec<(String, Document)>>;

/// A migrated store whose client logs every command it starts.
async fn counted_store() -> (MongoStore, Arc<Log>) {
    let uri = std::env::var("MONGO_URI").expect("MONGO_URI is not set");
    let mut options = ClientOptions::parse(&uri).await.expect("bad MONGO_URI");
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    options.command_event_handler = Some(EventHandler::callback(move |event| {
        if let CommandEvent::Started(started) = event {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((started.command_name, started.command));
        }
    }));
    let client = Client::with_options(options).expect("client");
    let name = format!("sessions_{}", &StoreKey::random().as_str()[..16]);
    let store = MongoStore::new(client.database("store_mongo_tests").collection(&name));
    store.migrate().await.expect("migrate");
    (store, log)
}

/// The names of the commands `op` sent, in order.
async fn sent<T>(log: &Log, op: impl Future<Output = T>) -> (T, Vec<String>) {
    let (out, commands) = sent_commands(log, op).await;
    (out, commands.into_iter().map(|(name, _)| name).collect())
}

/// The commands `op` sent, in order.
async fn sent_commands<T>(log: &Log, op: impl Future<Output = T>) -> (T, Vec<(String, Document)>) {
    log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let out = op.await;
    let commands = std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner()));
    (out, commands)
}

/// The first statement of a write command (`documents`, `updates` or `deletes`).
fn statement<'a>(command: &'a Document, list: &str) -> &'a Document {
    let first = command.get_array(list).ok().and_then(|a| a.first());
    first
        .and_then(Bson::as_document)
        .unwrap_or_else(|| panic!("no {list} in {command}"))
}

fn record(user: Option<&str>) -> Record {
    let now = Timestamp::now();
    let mut r = Record::new(now, now.add(Duration::from_secs(3600)), false);
    r.data.insert("a".into(), json!(1).into());
    r.user = user.map(str::to_owned);
    r.authenticated_at = user.map(|_| now);
    r
}

fn changes(user: Option<Option<&str>>) -> Changeset {
    let mut c = Changeset::new(Timestamp::now().add(Duration::from_secs(3600)));
    c.set.insert("b".into(), json!(2).into());
    c.user = user.map(|u| u.map(str::to_owned));
    c.authenticated_at = c.user.as_ref().map(|_| Timestamp::now());
    c
}

#[tokio::test]
async fn commands_per_operation() {
    let (store, log) = counted_store().await;
    let alice = format!("alice-{}", &StoreKey::random().as_str()[..8]);
    let (anon, mine) = (StoreKey::random(), StoreKey::random());

    let (out, n) = sent(&log, store.create(&anon, &record(None))).await;
    assert_eq!(
        (out.expect("create"), n),
        (CreateOutcome::Created, vec!["insert".into()])
    );
    let (out, n) = sent(&log, store.create(&mine, &record(Some(&alice)))).await;
    assert_eq!(out.expect("create"), CreateOutcome::Created);
    assert_eq!(n, ["insert", "find"], "create with a user");

    let (out, n) = sent(&log, store.load(&anon)).await;
    assert!(out.expect("load").is_some());
    assert_eq!(n, ["find"], "load");
    let (out, n) = sent(&log, store.apply(&anon, &changes(None), None)).await;
    assert_eq!(out.expect("apply"), ApplyOutcome::Applied(2));
    assert_eq!(n, ["findAndModify"], "apply");
    let (out, n) = sent(&log, store.apply(&mine, &changes(Some(None)), None)).await;
    assert_eq!(out.expect("apply"), ApplyOutcome::Applied(2));
    assert_eq!(n, ["findAndModify"], "apply that signs out");
    let (out, n) = sent(&log, store.apply(&anon, &changes(Some(Some(&alice))), None)).await;
    assert_eq!(out.expect("apply"), ApplyOutcome::Applied(3));
    assert_eq!(
        n,
        ["update", "find", "findAndModify"],
        "apply that binds a user"
    );

    let to = StoreKey::random();
    let login = changes(Some(Some(&alice)));
    let (out, mut n) = sent(&log, store.rotate(&mine, &to, &login, None)).await;
    assert_eq!(out.expect("rotate"), RotateOutcome::Rotated(3));
    n[1..3].sort(); // sent at once
    assert_eq!(
        n,
        ["insert", "find", "findAndModify", "update"],
        "login rotation"
    );
    let again = StoreKey::random();
    let (out, mut n) = sent(&log, store.rotate(&to, &again, &changes(None), None)).await;
    assert_eq!(out.expect("rotate"), RotateOutcome::Rotated(4));
    n[2..4].sort();
    let expected = ["find", "insert", "find", "findAndModify", "update"];
    assert_eq!(n, expected, "rotation keeping the user");

    let (out, mut n) = sent(&log, store.delete_sessions_of(&alice, None)).await;
    assert_eq!(out.expect("revoke"), 2);
    n.get_mut(1..3).map(<[String]>::sort);
    let expected = ["update", "delete", "update", "delete"];
    assert_eq!(n, expected, "delete_sessions_of");
}

/// A rotation's placeholder carries the resulting owner (so a revocation's cleanup finds
/// it) and no deadline (so nothing reads it), and its activation requires it to be still
/// pending (so a placeholder the revocation deleted is not re-created).
#[tokio::test]
async fn rotation_steps_that_a_revocation_relies_on() {
    let (store, log) = counted_store().await;
    let alice = format!("alice-{}", &StoreKey::random().as_str()[..8]);
    let (from, to) = (StoreKey::random(), StoreKey::random());
    let created = store.create(&from, &record(None)).await.expect("create");
    assert_eq!(created, CreateOutcome::Created);
    let login = changes(Some(Some(&alice)));
    let (out, commands) = sent_commands(&log, store.rotate(&from, &to, &login, None)).await;
    assert!(matches!(out.expect("rotate"), RotateOutcome::Rotated(_)));

    let (name, insert) = &commands[0];
    assert_eq!(name, "insert");
    let placeholder = statement(insert, "documents");
    assert_eq!(placeholder.get_str("_id").ok(), Some(to.as_str()));
    assert_eq!(placeholder.get_str("user").ok(), Some(alice.as_str()));
    assert!(placeholder.contains_key("pending_until"));
    assert!(!placeholder.contains_key("expires_at"), "{placeholder}");

    let (name, activation) = &commands[3];
    assert_eq!(name, "update");
    let filter = statement(activation, "updates")
        .get_document("q")
        .expect("q");
    assert_eq!(filter.get_str("_id").ok(), Some(to.as_str()));
    assert!(filter.contains_key("pending_until"), "{filter}");
    let upsert = statement(activation, "updates").get_bool("upsert");
    assert!(!upsert.unwrap_or(false), "the activation must never upsert");
}

/// A binding `apply` pushes its intent before checking the revocation, and its write
/// requires the intent; a revocation pulls intents and deletes placeholders after
/// recording itself and before deleting the live sessions.
#[tokio::test]
async fn binding_and_revocation_steps_in_order() {
    let (store, log) = counted_store().await;
    let alice = format!("alice-{}", &StoreKey::random().as_str()[..8]);
    let key = StoreKey::random();
    let created = store.create(&key, &record(None)).await.expect("create");
    assert_eq!(created, CreateOutcome::Created);
    let login = changes(Some(Some(&alice)));
    let (out, commands) = sent_commands(&log, store.apply(&key, &login, None)).await;
    assert!(matches!(out.expect("apply"), ApplyOutcome::Applied(_)));
    let push = statement(&commands[0].1, "updates")
        .get_document("u")
        .expect("u");
    assert!(push.contains_key("$push"), "{push}");
    assert_eq!(
        commands[1].1.get_str("find").ok(),
        Some(store.revocation_collection().name())
    );
    let write = commands[2].1.get_document("query").expect("query");
    assert!(write.contains_key("binds.t"), "{write}");

    let (out, commands) = sent_commands(&log, store.delete_sessions_of(&alice, None)).await;
    assert_eq!(out.expect("revoke"), 1);
    let revocations = store.revocation_collection().name();
    assert_eq!(commands[0].1.get_str("update").ok(), Some(revocations));
    let mut middle: Vec<String> = commands[1..3]
        .iter()
        .map(|(name, body)| {
            let list = if name == "update" {
                "updates"
            } else {
                "deletes"
            };
            format!(
                "{name} {}",
                statement(body, list).get_document("q").expect("q")
            )
        })
        .collect();
    middle.sort();
    assert!(middle[0].starts_with("delete") && middle[0].contains("pending_until"));
    assert!(middle[1].starts_with("update") && middle[1].contains("binds.u"));
    let last = statement(&commands[3].1, "deletes")
        .get_document("q")
        .expect("q");
    assert!(last.contains_key("expires_at"), "{last}");
}

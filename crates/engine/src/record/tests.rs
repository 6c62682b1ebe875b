//! The recorder's pushes: ids checked, deduplicated per vantage.

use super::*;
use crate::store::SqliteStore;

fn down(at_ms: i64) -> crate::probe::ProbeOutput {
    crate::probe::ProbeOutput {
        at_ms,
        phases: Default::default(),
        health: Health::Down,
        cause: Some(probity_core::result::Cause {
            class: probity_core::result::ErrorClass::Connect,
            detail: "refused".into(),
        }),
        details: Default::default(),
        observation: Default::default(),
    }
}

async fn push(
    tx: &mpsc::Sender<Pushed>,
    target: &Arc<Target>,
    origin: &str,
    at_ms: i64,
) -> Result<PushReceipt, PushRefused> {
    push_as(tx, "eu", target, origin, at_ms).await
}

async fn push_as(
    tx: &mpsc::Sender<Pushed>,
    vantage: &str,
    target: &Arc<Target>,
    origin: &str,
    at_ms: i64,
) -> Result<PushReceipt, PushRefused> {
    let (reply, answer) = oneshot::channel();
    let item = PushedItem {
        target: target.clone(),
        output: down(at_ms),
        origin: origin.into(),
        unmeasured: false,
        clock_offset_ms: None,
    };
    tx.send(Pushed {
        vantage: vantage.into(),
        items: vec![item],
        reply,
    })
    .await
    .unwrap();
    answer.await.unwrap()
}

/// A store that cannot say which ids it holds must not let a push through as new: the
/// push is refused whole (the agent retries) and nothing of it enters the trackers.
#[tokio::test]
async fn a_push_whose_ids_cannot_be_checked_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let config = probity_ground::config::parse(
        "t.toml",
        "[[vantage]]\nname = \"eu\"\n\n[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\nfailure_threshold = 2\n",
        dir.path(),
    )
    .unwrap();
    let targets: Vec<Arc<Target>> = config.targets;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let shared = Arc::new(Shared::default());
    let (tx, rx) = mpsc::channel(4);
    let (_local, local_rx) = mpsc::channel(4);
    let recorder = Recorder::new(store.clone(), shared, &targets)
        .unwrap()
        .with_pushes(rx);
    let running = tokio::spawn(recorder.run(local_rx));
    let now = jiff::Timestamp::now().as_millisecond();

    // A real fault of the real store: the results table is away while the push arrives.
    let side = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
    side.execute_batch("ALTER TABLE results RENAME TO results_away")
        .unwrap();
    let refused = push(&tx, &targets[0], "eu:1:1", now - 2_000).await;
    assert!(refused.is_err(), "{refused:?}");
    side.execute_batch("ALTER TABLE results_away RENAME TO results")
        .unwrap();

    // The retry is the first time this result counts; a second failure opens nothing
    // yet would be wrong if the refused push had been counted (threshold 2).
    let first = push(&tx, &targets[0], "eu:1:1", now - 2_000).await.unwrap();
    assert_eq!(
        first,
        PushReceipt {
            accepted: 1,
            duplicates: 0
        }
    );
    assert!(
        store.incidents(IncidentFilter::Open).unwrap().is_empty(),
        "one counted failure is below the threshold of 2"
    );
    let again = push(&tx, &targets[0], "eu:1:1", now - 2_000).await.unwrap();
    assert_eq!(
        again,
        PushReceipt {
            accepted: 0,
            duplicates: 1
        }
    );
    let second = push(&tx, &targets[0], "eu:1:2", now - 1_000).await.unwrap();
    assert_eq!(second.accepted, 1);
    assert_eq!(store.incidents(IncidentFilter::Open).unwrap().len(), 1);
    drop(tx);
    running.abort();
}

/// Result ids are a vantage's own: another vantage using the same id neither hides its
/// result nor is hidden by it.
#[tokio::test]
async fn ids_are_deduplicated_per_vantage() {
    let dir = tempfile::tempdir().unwrap();
    let config = probity_ground::config::parse(
        "t.toml",
        "[[vantage]]\nname = \"eu\"\n\n[[vantage]]\nname = \"us\"\n\n[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n",
        dir.path(),
    )
    .unwrap();
    let targets: Vec<Arc<Target>> = config.targets;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let (tx, rx) = mpsc::channel(4);
    let (_local, local_rx) = mpsc::channel(4);
    let recorder = Recorder::new(store.clone(), Arc::new(Shared::default()), &targets)
        .unwrap()
        .with_pushes(rx);
    let running = tokio::spawn(recorder.run(local_rx));
    let now = jiff::Timestamp::now().as_millisecond();
    // `us` claims the id `eu` will use next; `eu`'s result is stored all the same.
    let us = push_as(&tx, "us", &targets[0], "eu:1:1", now - 2_000).await;
    assert_eq!(
        us,
        Ok(PushReceipt {
            accepted: 1,
            duplicates: 0
        })
    );
    let eu = push_as(&tx, "eu", &targets[0], "eu:1:1", now - 1_000).await;
    assert_eq!(
        eu,
        Ok(PushReceipt {
            accepted: 1,
            duplicates: 0
        })
    );
    // Within one vantage an id still counts once.
    let again = push_as(&tx, "eu", &targets[0], "eu:1:1", now - 1_000).await;
    assert_eq!(
        again,
        Ok(PushReceipt {
            accepted: 0,
            duplicates: 1
        })
    );
    let stored = store.results("web", None, None, 10).unwrap();
    assert_eq!(stored.len(), 2);
    drop(tx);
    running.abort();
}

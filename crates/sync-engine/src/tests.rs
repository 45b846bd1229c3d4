//! The engine's rules, case by case. The seeded simulation in `tests/simulation.rs` covers the
//! combinations.

use super::*;

fn at(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn config() -> Config {
    Config { batch_size: 50, request_timeout_ms: 10_000, backoff_base_ms: 1_000, backoff_cap_ms: 8_000, pull_interval_ms: 60_000 }
}

/// The next work item, skipping progress reports.
fn next_work(engine: &mut Engine, now: Timestamp) -> Option<Output> {
    loop {
        match engine.poll_output(now)? {
            Output::Progress(_) => continue,
            other => return Some(other),
        }
    }
}

fn push_id(output: Option<Output>) -> RequestId {
    match output {
        Some(Output::Push { id, .. }) => id,
        other => panic!("expected a push, got {other:?}"),
    }
}

fn pull_id(output: Option<Output>) -> RequestId {
    match output {
        Some(Output::Pull { id }) => id,
        other => panic!("expected a pull, got {other:?}"),
    }
}

#[test]
fn a_fresh_engine_pulls_then_rests_until_the_periodic_pull() {
    let mut engine = Engine::new(config(), 1);
    let id = pull_id(next_work(&mut engine, at(0)));
    assert_eq!(next_work(&mut engine, at(0)), None, "one request at a time");
    engine.handle_input(Input::Pulled { id, more: false }, at(100));
    assert_eq!(next_work(&mut engine, at(100)), None);
    assert_eq!(engine.progress().phase, Phase::Idle);
    assert_eq!(engine.progress().last_synced_at, Some(at(100)));
    assert_eq!(engine.poll_timeout(), Some(at(60_100)));
    pull_id(next_work(&mut engine, at(60_100)));
}

#[test]
fn pending_changes_are_pushed_in_batches_then_pulled() {
    let mut engine = Engine::new(config(), 2);
    engine.handle_input(Input::Pending { pending: 120 }, at(0));
    let Some(Output::Push { id, max_entries }) = next_work(&mut engine, at(0)) else { panic!("a push first") };
    assert_eq!(max_entries, 50);
    engine.handle_input(Input::Pushed { id, acked: 50, pending: 70, refused: vec![] }, at(10));
    let progress = engine.progress();
    assert_eq!((progress.sent, progress.round_total, progress.pending), (50, 120, 70), "50 of 120 changes sent");
    let id = push_id(next_work(&mut engine, at(10)));
    engine.handle_input(Input::Pushed { id, acked: 50, pending: 20, refused: vec![] }, at(20));
    let id = push_id(next_work(&mut engine, at(20)));
    engine.handle_input(Input::Pushed { id, acked: 20, pending: 0, refused: vec![] }, at(30));
    assert_eq!(engine.progress().phase, Phase::Pulling, "everything sent, but not idle before the pull");
    let id = pull_id(next_work(&mut engine, at(30)));
    engine.handle_input(Input::Pulled { id, more: true }, at(40));
    let id = pull_id(next_work(&mut engine, at(40)));
    engine.handle_input(Input::Pulled { id, more: false }, at(50));
    assert_eq!(next_work(&mut engine, at(50)), None);
    assert_eq!(engine.progress().last_synced_at, Some(at(50)));
}

#[test]
fn failures_back_off_with_jitter_up_to_the_cap_and_success_resets() {
    let mut engine = Engine::new(config(), 3);
    engine.handle_input(Input::Pending { pending: 1 }, at(0));
    let mut now = 0;
    let mut windows = Vec::new();
    for failure in 1..=6 {
        let id = push_id(next_work(&mut engine, at(now)));
        engine.handle_input(Input::Failed { id, failure: Failure::Transient }, at(now));
        let retry = engine.progress().retry_at.unwrap().millis();
        let window = 1_000i64 * (1 << (failure - 1));
        assert!(retry - now <= window.min(8_000), "failure {failure}: waited {} ms", retry - now);
        windows.push(retry - now);
        assert_eq!(engine.progress().phase, Phase::Backoff);
        assert_eq!(next_work(&mut engine, at(retry - 1)), None, "nothing before the retry time");
        now = retry;
    }
    assert_eq!(engine.progress().failures, 6);
    let id = push_id(next_work(&mut engine, at(now)));
    engine.handle_input(Input::Pushed { id, acked: 1, pending: 0, refused: vec![] }, at(now));
    assert_eq!((engine.progress().failures, engine.progress().retry_at), (0, None));
    assert!(windows.iter().any(|w| *w != windows[0]), "jittered: {windows:?}");
}

#[test]
fn late_duplicated_and_foreign_answers_change_nothing() {
    let mut engine = Engine::new(config(), 4);
    engine.handle_input(Input::Pending { pending: 3 }, at(0));
    let id = push_id(next_work(&mut engine, at(0)));
    engine.handle_input(Input::Pulled { id, more: false }, at(1));
    assert_eq!(engine.progress().phase, Phase::Pushing, "a pull answer does not end a push");
    engine.handle_input(Input::Pushed { id, acked: 3, pending: 0, refused: vec![] }, at(2));
    engine.handle_input(Input::Pushed { id, acked: 3, pending: 0, refused: vec![] }, at(3));
    assert_eq!(engine.progress().sent, 3, "a duplicated answer counts once");
}

#[test]
fn a_late_answer_still_updates_what_is_pending() {
    let mut engine = Engine::new(config(), 11);
    engine.handle_input(Input::Pending { pending: 5 }, at(0));
    let first = push_id(next_work(&mut engine, at(0)));
    assert_eq!(next_work(&mut engine, at(10_000)), None, "timed out");
    let retry = engine.progress().retry_at.unwrap();
    let second = push_id(next_work(&mut engine, retry));
    engine.handle_input(Input::Pushed { id: first, acked: 5, pending: 0, refused: vec![] }, retry);
    assert_eq!(engine.progress().pending, 0, "the store's count is taken from any answer");
    engine.handle_input(Input::Pushed { id: second, acked: 0, pending: 0, refused: vec![] }, retry);
    pull_id(next_work(&mut engine, retry));
}

#[test]
fn a_request_without_answer_times_out_into_backoff() {
    let mut engine = Engine::new(config(), 5);
    engine.handle_input(Input::Pending { pending: 1 }, at(0));
    let id = push_id(next_work(&mut engine, at(0)));
    assert_eq!(engine.poll_timeout(), Some(at(10_000)));
    assert_eq!(next_work(&mut engine, at(9_999)), None);
    assert_eq!(next_work(&mut engine, at(10_000)), None, "the timeout starts a backoff, not a new request");
    assert_eq!(engine.progress().phase, Phase::Backoff);
    engine.handle_input(Input::Pushed { id, acked: 1, pending: 0, refused: vec![] }, at(10_001));
    let progress = engine.progress();
    assert_eq!((progress.failures, progress.sent), (1, 0), "too late to count as a success");
    assert_eq!(progress.pending, 0, "but the outbox count is taken");
}

#[test]
fn offline_waits_and_the_network_coming_back_retries_at_once() {
    let mut engine = Engine::new(config(), 6);
    engine.handle_input(Input::NetworkDown, at(0));
    engine.handle_input(Input::Pending { pending: 12 }, at(0));
    assert_eq!(next_work(&mut engine, at(0)), None);
    assert_eq!(engine.progress().phase, Phase::Offline);
    assert_eq!(engine.progress().pending, 12, "offline: 12 waiting");
    assert_eq!(engine.poll_timeout(), None);
    engine.handle_input(Input::NetworkUp, at(5_000));
    push_id(next_work(&mut engine, at(5_000)));
}

#[test]
fn the_network_coming_back_cuts_a_backoff_short() {
    let mut engine = Engine::new(config(), 7);
    engine.handle_input(Input::Pending { pending: 1 }, at(0));
    for _ in 0..4 {
        let now = engine.progress().retry_at.unwrap_or(at(0));
        let id = push_id(next_work(&mut engine, now));
        engine.handle_input(Input::Failed { id, failure: Failure::Transient }, now);
    }
    let retry = engine.progress().retry_at.unwrap();
    let early = Timestamp(retry.millis() - 1);
    engine.handle_input(Input::NetworkUp, early);
    push_id(next_work(&mut engine, early));
}

#[test]
fn refusals_are_reported_and_do_not_block_the_queue() {
    let mut engine = Engine::new(config(), 8);
    engine.handle_input(Input::Pending { pending: 2 }, at(0));
    let id = push_id(next_work(&mut engine, at(0)));
    let refusal = Refusal { seq: 1, name: "order.step".into(), code: "invalid_transition".into(), field: Some(Field::Status), message: "no".into() };
    engine.handle_input(Input::Pushed { id, acked: 2, pending: 0, refused: vec![refusal.clone()] }, at(1));
    assert_eq!(next_work(&mut engine, at(1)), Some(Output::Refused(refusal)));
    pull_id(next_work(&mut engine, at(1)));
}

#[test]
fn a_refused_token_stops_sync_until_paired_again() {
    let mut engine = Engine::new(config(), 9);
    engine.handle_input(Input::Pending { pending: 1 }, at(0));
    let id = push_id(next_work(&mut engine, at(0)));
    engine.handle_input(Input::Failed { id, failure: Failure::Unauthorized }, at(1));
    assert_eq!(engine.progress().phase, Phase::Unauthorized);
    assert_eq!(next_work(&mut engine, at(1_000_000)), None);
    engine.handle_input(Input::SyncNow, at(1_000_001));
    push_id(next_work(&mut engine, at(1_000_001)));
}

#[test]
fn a_sync_request_during_a_pull_gets_a_pull_of_its_own() {
    let mut engine = Engine::new(config(), 12);
    let early = pull_id(next_work(&mut engine, at(0)));
    engine.handle_input(Input::SyncNow, at(5));
    engine.handle_input(Input::Pulled { id: early, more: false }, at(10));
    // The first pull may have read the server before whatever the person is waiting for.
    let fresh = pull_id(next_work(&mut engine, at(10)));
    engine.handle_input(Input::Pulled { id: fresh, more: false }, at(20));
    assert_eq!(next_work(&mut engine, at(20)), None);
}

#[test]
fn progress_is_reported_when_it_changes_only() {
    let mut engine = Engine::new(config(), 10);
    engine.handle_input(Input::Pending { pending: 4 }, at(0));
    let reports: Vec<_> = std::iter::from_fn(|| engine.poll_output(at(0))).filter(|o| matches!(o, Output::Progress(_))).collect();
    assert!(!reports.is_empty());
    engine.handle_input(Input::Pending { pending: 4 }, at(1));
    assert!(std::iter::from_fn(|| engine.poll_output(at(1))).all(|o| !matches!(o, Output::Progress(_))), "no change, no report");
}

#[test]
fn the_same_seed_makes_the_same_engine() {
    let run = |seed| {
        let mut engine = Engine::new(config(), seed);
        engine.handle_input(Input::Pending { pending: 1 }, at(0));
        let mut waits = Vec::new();
        let mut now = at(0);
        for _ in 0..5 {
            let id = push_id(next_work(&mut engine, now));
            engine.handle_input(Input::Failed { id, failure: Failure::Transient }, now);
            now = engine.progress().retry_at.unwrap();
            waits.push(now.millis());
        }
        waits
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

//! A writer process killed with SIGKILL in the middle of a stream of writes loses nothing it
//! reported as committed, and leaves a database that SQLite calls intact.
//!
//! The test re-runs its own binary as the child: with `FIELDCAST_KILL_CHILD_DB` set, the same test
//! function becomes a writer that commits listings forever and prints each id after its commit
//! returns. The parent kills it at a different point each round and reopens the file.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use domain::ids::ListingId;
use domain::listing::{Listing, ListingInput};
use domain::mutation::Mutation;
use domain::time::Timestamp;
use store::Store;
use uuid::Uuid;

const CHILD_ENV: &str = "FIELDCAST_KILL_CHILD_DB";
const ROUNDS: usize = 6;

#[test]
fn committed_writes_survive_sigkill() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        write_forever(Path::new(&path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let mut reported: HashSet<String> = HashSet::new();
    for round in 0..ROUNDS {
        // Kill after a different number of commits each round, so the kill lands at varied points.
        let kill_after = 20 + round * 37;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "committed_writes_survive_sigkill", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < kill_after {
            let line = lines.next().expect("the child ended before it was killed").unwrap();
            if let Some(id) = committed_id(&line) {
                reported.insert(id.to_owned());
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush, no WAL checkpoint.
        // Whatever the child printed before it died was also committed before it printed.
        for line in lines.map_while(Result::ok) {
            if let Some(id) = committed_id(&line) {
                reported.insert(id.to_owned());
            }
        }
        child.wait().unwrap();

        let store = Store::open(&path).unwrap();
        store.integrity_check().unwrap();
        let stored: HashSet<String> = store.listings().unwrap().iter().map(|l| l.id.to_string()).collect();
        let missing: Vec<_> = reported.difference(&stored).collect();
        assert!(missing.is_empty(), "round {round}: committed but lost: {missing:?}");
        // At most the one write that committed but was not printed yet is extra.
        assert!(stored.len() <= reported.len() + round + 1, "round {round}: unexpected rows");
        let seqs: Vec<u64> = store.outbox(usize::MAX).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=stored.len() as u64).collect::<Vec<_>>(), "round {round}: one outbox entry per write, no gaps");
    }
}

/// The id in a "committed <id>" line. The first one of each child shares its line with the test
/// harness's "test committed_writes_survive_sigkill ... " (printed without a line end before the
/// test runs), so the marker is looked for anywhere in the line, not only at its start.
fn committed_id(line: &str) -> Option<&str> {
    line.rsplit_once("committed ").map(|(_, id)| id.trim()).filter(|id| Uuid::parse_str(id).is_ok())
}

fn write_forever(path: &Path) -> ! {
    let mut store = Store::open(path).unwrap();
    let details = ListingInput {
        title: "Corn".into(),
        unit: "jin".into(),
        currency: "CNY".into(),
        price: "3.50".into(),
        stock: "50".into(),
        ..Default::default()
    }
    .parse()
    .unwrap();
    for n in 0.. {
        let listing = Listing::new(ListingId(Uuid::now_v7()), details.clone(), Timestamp(n));
        let change = store.change().unwrap();
        change.put_listing(&listing).unwrap();
        let mutation = Mutation::ListingCreate { listing_id: listing.id, farmer_id: None, details: details.clone() };
        change.commit(&[mutation], Timestamp(n)).unwrap();
        println!("committed {}", listing.id);
    }
    unreachable!("the parent kills the writer")
}

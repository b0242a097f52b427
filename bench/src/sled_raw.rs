//! Write rates of sled alone, single writer, 900-byte values, each bounded to 3 s: the
//! durability ceilings the server's writes are compared with.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::report::SledRate;

/// Each write pattern's rate, by name, so a bar reads the one it compares with directly.
pub struct SledRates {
    pub insert_flush: SledRate,
    /// What one durable create costs the store: record and index in one transaction, flushed.
    pub two_tree_flush: SledRate,
    pub batched_flush: SledRate,
}

impl SledRates {
    /// The rows of the report, in the order they were measured.
    pub fn rows(&self) -> Vec<SledRate> {
        vec![
            self.insert_flush.clone(),
            self.two_tree_flush.clone(),
            self.batched_flush.clone(),
        ]
    }
}

type Write<'a> = dyn FnMut(&sled::Db, &sled::Tree, &sled::Tree, u64) -> u64 + 'a;

/// Writes with `write` (which answers how many it made) for 3 s on a fresh db.
fn measure(dir: &Path, name: &'static str, write: &mut Write) -> SledRate {
    let path = dir.join(name.replace(' ', "-"));
    let db = sled::Config::new()
        .path(&path)
        .cache_capacity(64 << 20)
        .open()
        .unwrap();
    let (a, b) = (db.open_tree("a").unwrap(), db.open_tree("b").unwrap());
    let started = Instant::now();
    let mut ops = 0;
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(3) {
        ops += write(&db, &a, &b, n);
        n += 1;
    }
    let rate = ops as f64 / started.elapsed().as_secs_f64();
    eprintln!("   {name}: {rate:.0} writes/s");
    SledRate {
        name,
        ops_per_sec: rate,
    }
}

pub fn baselines(dir: &Path) -> SledRates {
    let value = vec![7u8; 900];
    let insert_flush = measure(dir, "insert + flush per write", &mut |db, a, _, n| {
        a.insert(n.to_be_bytes(), value.as_slice()).unwrap();
        db.flush().unwrap();
        1
    });
    let two_tree_flush = measure(
        dir,
        "two-tree transaction + flush per write",
        &mut |db, a, b, n| {
            use sled::Transactional;
            (a, b)
                .transaction(|(a, b)| {
                    a.insert(&n.to_be_bytes(), value.as_slice())?;
                    b.insert(&n.to_be_bytes(), &n.to_be_bytes())?;
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap();
            db.flush().unwrap();
            1
        },
    );
    let batched_flush = measure(
        dir,
        "insert, one flush per batch of 64",
        &mut |db, a, _, n| {
            for i in 0..64 {
                a.insert((n * 64 + i).to_be_bytes(), value.as_slice())
                    .unwrap();
            }
            db.flush().unwrap();
            64
        },
    );
    SledRates {
        insert_flush,
        two_tree_flush,
        batched_flush,
    }
}

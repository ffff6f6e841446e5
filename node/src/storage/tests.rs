//! The store's semantics, the same for every engine.

use super::*;

/// The layout of the tests: the chain's, written out so that this module stays apart from it.
const LAYOUT: Layout = Layout {
    append: &[b"b/", b"r/"],
    cached: b"s/",
};

fn exercise(s: &dyn Store) {
    let mut b = Batch::default();
    for i in 0u8..10 {
        b.put(vec![b'a', i], vec![i]);
    }
    b.put(b"b".to_vec(), b"x".to_vec());
    s.write(b).unwrap();
    let all = s.scan(b"a", None, 100).unwrap();
    assert_eq!(all.len(), 10);
    let after = s.scan(b"a", Some(&[b'a', 4]), 3).unwrap();
    assert_eq!(
        after.iter().map(|(_, v)| v[0]).collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    let rev = s.scan_rev(b"a", 2).unwrap();
    assert_eq!(
        rev.iter().map(|(_, v)| v[0]).collect::<Vec<_>>(),
        vec![9, 8]
    );
    let mut d = Batch::default();
    d.delete(vec![b'a', 0]);
    s.write(d).unwrap();
    assert_eq!(s.get(&[b'a', 0]).unwrap(), None);
    assert_eq!(s.get(b"b").unwrap(), Some(b"x".to_vec()));
    s.flush().unwrap();
}

#[test]
fn mem_store_semantics() {
    exercise(&MemStore::default());
}

#[test]
fn the_disk_store_keeps_its_semantics_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = FjallStore::open(dir.path(), LAYOUT).unwrap();
        exercise(&s);
    }
    let s = FjallStore::open(dir.path(), LAYOUT).unwrap();
    assert_eq!(s.get(b"b").unwrap(), Some(b"x".to_vec()));
    assert_eq!(s.scan(b"a", None, 100).unwrap().len(), 9);
}

#[test]
fn scans_stop_at_the_end_of_their_prefix() {
    // Keys just past the prefix (the next byte value, and a prefix of 0xff bytes) must not
    // leak into a scan, forward or backward.
    let dir = tempfile::tempdir().unwrap();
    let disk = FjallStore::open(dir.path(), LAYOUT).unwrap();
    let mem = MemStore::default();
    for s in [&disk as &dyn Store, &mem] {
        let mut b = Batch::default();
        for k in [
            &b"p\x00"[..],
            b"p\xff",
            b"p\xff\xff",
            b"q",
            b"\xff",
            b"\xff\x01",
        ] {
            b.put(k.to_vec(), k.to_vec());
        }
        s.write(b).unwrap();
        let keys = |e: Entries| e.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            keys(s.scan(b"p", None, 10).unwrap()),
            vec![b"p\x00".to_vec(), b"p\xff".to_vec(), b"p\xff\xff".to_vec()]
        );
        assert_eq!(
            keys(s.scan(b"p\xff", Some(b"p\xff"), 10).unwrap()),
            vec![b"p\xff\xff".to_vec()]
        );
        assert_eq!(
            keys(s.scan(b"\xff", None, 10).unwrap()),
            vec![b"\xff".to_vec(), b"\xff\x01".to_vec()]
        );
        assert_eq!(
            keys(s.scan_rev(b"p", 2).unwrap()),
            vec![b"p\xff\xff".to_vec(), b"p\xff".to_vec()]
        );
    }
}

#[test]
fn fjall_answers_like_one_ordered_map_across_its_keyspaces() {
    // Keys in the append keyspace (b/, r/), in the random one, and around the boundary;
    // every scan, also those whose prefix spans both keyspaces, must match MemStore.
    let dir = tempfile::tempdir().unwrap();
    let disk = FjallStore::open(dir.path(), LAYOUT).unwrap();
    let mem = MemStore::default();
    let keys: Vec<&[u8]> = vec![
        b"a",
        b"b",
        b"b.",
        b"b/\x00\x01",
        b"b/\x00\x02",
        b"b0",
        b"h/x",
        b"m/tip",
        b"r",
        b"r/\x00\x01\x00",
        b"r/\x00\x01\x01",
        b"r/\x00\x02\x00",
        b"r0",
        b"s/k",
        b"t/x",
    ];
    for s in [&disk as &dyn Store, &mem] {
        let mut b = Batch::default();
        for k in &keys {
            b.put(k.to_vec(), [k, &b"!"[..]].concat());
        }
        b.delete(b"r/\x00\x01\x01".to_vec());
        s.write(b).unwrap();
    }
    assert_eq!(disk.get(b"r/\x00\x01\x01").unwrap(), None);
    assert_eq!(
        disk.get(b"b/\x00\x02").unwrap(),
        Some(b"b/\x00\x02!".to_vec())
    );
    for prefix in [
        &b""[..],
        b"b",
        b"b/",
        b"b/\x00",
        b"r",
        b"r/",
        b"r/\x00\x01",
        b"s",
        b"t/",
        b"z",
    ] {
        for limit in [1, 3, 100] {
            assert_eq!(
                disk.scan(prefix, None, limit).unwrap(),
                mem.scan(prefix, None, limit).unwrap(),
                "scan {prefix:?} {limit}"
            );
            assert_eq!(
                disk.scan_rev(prefix, limit).unwrap(),
                mem.scan_rev(prefix, limit).unwrap(),
                "scan_rev {prefix:?} {limit}"
            );
            for after in &keys {
                assert_eq!(
                    disk.scan(prefix, Some(after), limit).unwrap(),
                    mem.scan(prefix, Some(after), limit).unwrap(),
                    "scan {prefix:?} after {after:?} {limit}"
                );
            }
        }
    }
}

#[test]
fn cached_state_values_follow_every_batch_even_under_concurrent_reads() {
    let dir = tempfile::tempdir().unwrap();
    let disk = FjallStore::open(dir.path(), LAYOUT).unwrap();
    let put = |v: u32| {
        let mut b = Batch::default();
        b.put(b"s/k".to_vec(), v.to_be_bytes().to_vec());
        disk.write(b).unwrap();
    };
    let read = || {
        disk.get(b"s/k")
            .unwrap()
            .map(|v| u32::from_be_bytes(v.try_into().unwrap()))
    };
    assert_eq!(read(), None, "absent, and the absence is cached");
    put(0);
    assert_eq!(read(), Some(0));
    let mut b = Batch::default();
    b.delete(b"s/k".to_vec());
    disk.write(b).unwrap();
    assert_eq!(read(), None);
    // A batch that comes while a miss is being read waits until the value is cached, then
    // replaces it: it is never overtaken by the older value.
    let shared = &disk;
    std::thread::scope(|sc| {
        let (tx, rx) = std::sync::mpsc::channel();
        let v = disk
            .get_with(b"s/j", || {
                sc.spawn(move || {
                    let mut b = Batch::default();
                    b.put(b"s/j".to_vec(), b"new".to_vec());
                    shared.write(b).unwrap();
                    let _ = tx.send(()); // the reader may be gone
                });
                // The writer cannot finish while the miss holds the store: give it time.
                assert!(
                    rx.recv_timeout(std::time::Duration::from_millis(300))
                        .is_err(),
                    "a batch was applied between a miss's read and its caching"
                );
            })
            .unwrap();
        assert_eq!(v, None);
    });
    assert_eq!(disk.get(b"s/j").unwrap(), Some(b"new".to_vec()));
    // Readers racing with a writer: each sees values only go up, and once the writer is
    // done every read sees its last value (a miss read before a batch and cached after it
    // would stay stale).
    const LAST: u32 = 2_000;
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        for _ in 0..3 {
            sc.spawn(|| {
                let mut seen = 0;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let v = read().unwrap_or(0);
                    assert!(v >= seen, "went back from {seen} to {v}");
                    seen = v;
                }
                assert_eq!(read(), Some(LAST), "a stale value stayed cached");
            });
        }
        for v in 1..=LAST {
            put(v);
        }
        done.store(true, std::sync::atomic::Ordering::Release);
    });
}

#[test]
fn prefix_end_is_the_next_prefix() {
    assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
    assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
    assert_eq!(prefix_end(b"\xff\xff"), None);
    assert_eq!(prefix_end(b""), None);
}

#[test]
fn a_store_in_use_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FjallStore::open(dir.path(), LAYOUT).unwrap();
    match FjallStore::open(dir.path(), LAYOUT) {
        Err(StoreError::Locked(d)) => assert_eq!(d, dir.path()),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a store in use opened twice"),
    }
}

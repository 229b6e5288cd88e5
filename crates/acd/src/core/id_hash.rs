//! A fast hasher for the core's maps keyed by integer ids.

/// A fast hasher for the core's integer ids (the maps are keyed by ids the owner
/// chooses; this is not meant to resist crafted keys, and ids are not secret).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct IdHash;

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing with a rotation so the high bits reach the low ones
        // hashbrown uses.
        self.0 = (self.0.rotate_left(5) ^ n)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

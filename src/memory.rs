//! The `nnt` binary's global allocator: large allocations on huge pages.
//!
//! [`HugePages`] is the system allocator, except for blocks of at least
//! [`LARGE`] bytes (2 MiB: a network's parameters, gradients and optimizer
//! state, a data set, faer's packing buffers). On Linux those are mapped from
//! the kernel directly, as the C library maps its own large blocks, but
//! starting on a 2 MiB boundary and advised as wanting transparent huge pages
//! (`madvise(MADV_HUGEPAGE)`). Where the kernel leaves huge pages to such
//! advice (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise`, the
//! default of many distributions), the matrix products then walk 2 MiB pages
//! instead of 4 KiB ones: one TLB entry where 512 were (BENCHMARKS.md, round
//! 12, has the measurements).
//!
//! Mapping them ourselves keeps what the C library's large blocks have: a
//! zeroed block is fresh pages, touched only when used, and a growing block
//! (a vector being pushed into, a data set being read) moves with `mremap`
//! instead of being copied, so the peak is the new size, not old plus new.
//! (Advising part of a block the C library mapped splits its mapping, and its
//! `realloc` then copies: a check of a 5-million-line recipe peaked at 98 MB
//! instead of 73.) Elsewhere the system allocator serves every block.
//!
//! Nothing else changes: the values, and so every log, are the same bits with
//! or without it. The binary installs it (`#[global_allocator]` in
//! `main.rs`); the library and its tests use the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks of at least this many bytes are mapped on huge pages. Smaller ones
/// could not fill a huge page.
pub const LARGE: usize = HUGE_PAGE;

/// The size (and alignment) of an x86-64 or AArch64 transparent huge page.
const HUGE_PAGE: usize = 1 << 21;

/// The smallest page of the systems nnt runs on: what a moved mapping's start
/// is aligned to at least (`page_size` is the actual one).
const PAGE: usize = 4096;

/// The system allocator, large blocks mapped on transparent huge pages (see
/// the module documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct HugePages;

impl HugePages {
    /// Whether a block of `layout` is one of ours (mapped) rather than the
    /// system allocator's. A function of the layout alone, so that `dealloc`
    /// and `realloc` know where a block came from.
    fn mapped(layout: Layout) -> bool {
        cfg!(target_os = "linux") && layout.size() >= LARGE && layout.align() <= HUGE_PAGE
    }
}

// SAFETY (the trait's contract): a block whose layout is `mapped` is a private
// anonymous mapping of `map_len(size)` bytes starting at the pointer (see
// `map`), readable and writable, which nothing else uses, unmapped only by
// `dealloc` or moved only by `realloc` with that same length; every other
// block comes from `System` and goes back to it with the caller's layout.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::mapped(layout) {
            return map(layout.size());
        }
        // SAFETY: the caller's layout has a non-zero size.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::mapped(layout) {
            // Fresh anonymous pages read as zeros.
            return map(layout.size());
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if Self::mapped(layout) {
            unmap(ptr, layout.size());
            return;
        }
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(wanted) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        match (Self::mapped(layout), Self::mapped(wanted)) {
            (false, false) => {
                // SAFETY: `ptr` came from `System` with `layout`; `new_size` is
                // non-zero and does not overflow when rounded to the alignment
                // (checked by `from_size_align` above).
                unsafe { System.realloc(ptr, layout, new_size) }
            }
            // A moved mapping starts on a page, which serves any alignment
            // up to a page.
            (true, true) if layout.align() <= PAGE => remap(ptr, layout.size(), new_size),
            _ => {
                // Across the threshold (or a mapped block aligned beyond a
                // page): a new block, the contents copied.
                // SAFETY: `wanted` has a non-zero size.
                let p = unsafe { self.alloc(wanted) };
                if !p.is_null() {
                    // SAFETY: both blocks hold at least the smaller size and do
                    // not overlap (the new one is fresh); the old one is then
                    // freed with the layout it was allocated with.
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                p
            }
        }
    }
}

/// Hands the free memory of the C library's heap back to the kernel. Reading
/// and preparing a data set leaves its working copies (one vector a column)
/// freed on the heap; the run's large blocks are mappings of their own and
/// never reuse that space, so without this it stayed resident for the whole
/// run (25 MB of the benchmarks' rich network, whose peak it raised from 111
/// to 139 MB). `main.rs` calls it once the program is built, before training.
pub fn return_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` only releases pages of free chunks; no live block
    // is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The length of the mapping that holds a block of `size` bytes: whole pages
/// (`None` when that overflows). Not whole huge pages: the kernel backs the
/// tail past the last whole huge page with small pages, where rounding up
/// would make a block of 2 MiB and a bit take 4 MiB.
#[cfg(target_os = "linux")]
fn map_len(size: usize) -> Option<usize> {
    size.checked_next_multiple_of(page_size())
}

/// The system's page size (4 KiB on x86-64; 4, 16 or 64 KiB on AArch64), asked
/// once: the ends of a mapping, and of what is unmapped of it, must fall on
/// pages. A size that is not a power of two dividing a huge page (never seen)
/// is taken as a huge page, a multiple of every page.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn page_size() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SIZE: AtomicUsize = AtomicUsize::new(0);
    let known = SIZE.load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    // SAFETY: `sysconf` reads a value the kernel handed the process at start;
    // it allocates nothing (this runs inside the allocator).
    let asked = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = usize::try_from(asked)
        .ok()
        .filter(|&s| s >= PAGE && s.is_power_of_two() && HUGE_PAGE.is_multiple_of(s))
        .unwrap_or(HUGE_PAGE);
    SIZE.store(size, Ordering::Relaxed);
    size
}

/// A fresh, zeroed mapping of `map_len(size)` bytes starting on a huge page,
/// advised as wanting huge pages; null when the kernel refuses (the caller's
/// allocation fails, as the trait expects).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn map(size: usize) -> *mut u8 {
    let Some(len) = map_len(size) else {
        return std::ptr::null_mut();
    };
    // One huge page more than needed, so that an aligned start lies inside;
    // the slack before and after it is unmapped again.
    let Some(reserve) = len.checked_add(HUGE_PAGE) else {
        return std::ptr::null_mut();
    };
    // SAFETY: a new private anonymous mapping; it overlaps nothing.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            reserve,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let raw = raw as usize;
    let start = raw.next_multiple_of(HUGE_PAGE);
    let (before, after) = (start - raw, raw + reserve - (start + len));
    // SAFETY: both ranges are page-aligned parts of the mapping just made,
    // outside the block handed out; unmapping them touches nothing else.
    unsafe {
        if before > 0 {
            libc::munmap(raw as *mut libc::c_void, before);
        }
        if after > 0 {
            libc::munmap((start + len) as *mut libc::c_void, after);
        }
        // Advice changes how the kernel backs the pages, never their contents.
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
    start as *mut u8
}

/// Unmaps the block of `size` bytes `map` (or `remap`) returned at `ptr`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn unmap(ptr: *mut u8, size: usize) {
    if let Some(len) = map_len(size) {
        // SAFETY: `ptr` starts the mapping of `len` bytes made for this block,
        // which its owner has just given up.
        unsafe { libc::munmap(ptr.cast(), len) };
    }
}

/// The block of `old_size` bytes at `ptr`, grown or shrunk to `new_size` by
/// moving its pages (`mremap`), not copying them; null (the old block intact)
/// when the kernel refuses. The moved block may start anywhere on a page, not
/// on a huge page: the kernel keeps the advice with the pages, and only the
/// whole huge pages inside the block can be huge.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn remap(ptr: *mut u8, old_size: usize, new_size: usize) -> *mut u8 {
    let (Some(old), Some(new)) = (map_len(old_size), map_len(new_size)) else {
        return std::ptr::null_mut();
    };
    if old == new {
        return ptr;
    }
    // SAFETY: `ptr` starts this block's mapping of `old` bytes; MAYMOVE lets
    // the kernel pick a new place, and the caller uses the returned pointer.
    let p = unsafe { libc::mremap(ptr.cast(), old, new, libc::MREMAP_MAYMOVE) };
    if p == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    // SAFETY: `p` starts the moved mapping of `new` bytes.
    unsafe { libc::madvise(p, new, libc::MADV_HUGEPAGE) };
    p.cast()
}

// Elsewhere `mapped` is always false and these are never called.
#[cfg(not(target_os = "linux"))]
fn map(_: usize) -> *mut u8 {
    std::ptr::null_mut()
}
#[cfg(not(target_os = "linux"))]
fn unmap(_: *mut u8, _: usize) {}
#[cfg(not(target_os = "linux"))]
fn remap(_: *mut u8, _: usize, _: usize) -> *mut u8 {
    std::ptr::null_mut()
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    /// Fills `len` bytes from `p` with a pattern of `seed`.
    fn fill(p: *mut u8, len: usize, seed: u8) {
        // SAFETY: the callers pass blocks of at least `len` bytes.
        let s = unsafe { std::slice::from_raw_parts_mut(p, len) };
        for (i, b) in s.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
        }
    }

    /// Whether the first `len` bytes from `p` hold `fill`'s pattern.
    fn holds(p: *const u8, len: usize, seed: u8) -> bool {
        // SAFETY: the callers pass blocks of at least `len` bytes.
        let s = unsafe { std::slice::from_raw_parts(p, len) };
        s.iter()
            .enumerate()
            .all(|(i, &b)| b == (i as u8).wrapping_mul(31).wrapping_add(seed))
    }

    /// Small and large blocks keep what is written to them; large ones start
    /// on a huge page; zeroed blocks are zero.
    #[test]
    fn blocks_hold_their_contents() {
        let a = HugePages;
        for (size, align) in [
            (1, 1),
            (24, 8),
            (4096, 64),
            (LARGE - 1, 8),
            (LARGE, 4),
            (3 * LARGE + 12, 16),
            (LARGE, 4096),
            (LARGE, 1 << 22),
        ] {
            let layout = Layout::from_size_align(size, align).expect("a valid layout");
            // SAFETY: non-zero sizes; each block freed once with its layout.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null(), "{size} bytes");
                assert_eq!(p as usize % align, 0, "{size} bytes aligned to {align}");
                if size >= LARGE {
                    assert_eq!(p as usize % HUGE_PAGE, 0, "{size} bytes on a huge page");
                }
                fill(p, size, 7);
                assert!(holds(p, size, 7));
                a.dealloc(p, layout);

                let z = a.alloc_zeroed(layout);
                assert!(!z.is_null());
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                a.dealloc(z, layout);
            }
        }
    }

    /// Growing and shrinking, within and across the threshold, keeps the
    /// contents up to the smaller size, and the block freed at the end was
    /// allocated with the layout it is freed with (a mismatch aborts or
    /// corrupts the system allocator, which the later allocations would show).
    #[test]
    fn realloc_keeps_contents_across_the_threshold() {
        let a = HugePages;
        let sizes = [
            100,
            LARGE / 2,
            LARGE + 8,
            2 * LARGE,
            LARGE - 8,
            64,
            5 * LARGE,
        ];
        let align = 8;
        let mut layout = Layout::from_size_align(sizes[0], align).expect("a valid layout");
        // SAFETY: every realloc passes the block's current layout; the block is
        // freed once, with its last layout.
        unsafe {
            let mut p = a.alloc(layout);
            assert!(!p.is_null());
            fill(p, layout.size(), 3);
            for &size in &sizes[1..] {
                let kept = layout.size().min(size);
                p = a.realloc(p, layout, size);
                assert!(!p.is_null(), "to {size} bytes");
                assert!(holds(p, kept, 3), "to {size} bytes");
                layout = Layout::from_size_align(size, align).expect("a valid layout");
                fill(p, size, 3);
            }
            a.dealloc(p, layout);
        }
        // The system allocator is still sound: a Vec through it works.
        let v: Vec<u64> = (0..100_000).collect();
        assert_eq!(v.iter().sum::<u64>(), 99_999 * 100_000 / 2);
    }

    /// A large block growing by doubling (a vector being pushed into) keeps
    /// its contents; each step moves pages rather than copying them, and the
    /// block ends where a page starts. Shrinking within large sizes too; a
    /// large block aligned beyond a page keeps its alignment when it grows.
    #[test]
    fn large_blocks_grow_and_shrink_keeping_their_contents() {
        let a = HugePages;
        let mut layout = Layout::from_size_align(LARGE, 8).expect("a valid layout");
        // SAFETY: every realloc passes the block's current layout; the block is
        // freed once, with its last layout.
        unsafe {
            let mut p = a.alloc(layout);
            assert!(!p.is_null());
            fill(p, LARGE, 5);
            for size in [2 * LARGE, 4 * LARGE + 100, 16 * LARGE, 3 * LARGE] {
                let kept = layout.size().min(size);
                p = a.realloc(p, layout, size);
                assert!(!p.is_null(), "to {size} bytes");
                assert_eq!(p as usize % PAGE, 0, "to {size} bytes");
                assert!(holds(p, kept, 5), "to {size} bytes");
                layout = Layout::from_size_align(size, 8).expect("a valid layout");
                fill(p, size, 5);
            }
            a.dealloc(p, layout);

            let wide = Layout::from_size_align(LARGE, 1 << 16).expect("a valid layout");
            let q = a.alloc_zeroed(wide);
            assert!(!q.is_null());
            fill(q, LARGE, 9);
            let q = a.realloc(q, wide, 8 * LARGE);
            assert!(!q.is_null());
            assert_eq!(q as usize % (1 << 16), 0);
            assert!(holds(q, LARGE, 9));
            a.dealloc(
                q,
                Layout::from_size_align(8 * LARGE, 1 << 16).expect("a valid layout"),
            );
        }
    }
}

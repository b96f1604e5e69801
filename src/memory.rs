//! The `nnt` binary's global allocator: large allocations on huge pages.
//!
//! [`HugePages`] is the system allocator, except that an allocation of at least
//! [`LARGE`] bytes (2 MiB: a network's parameters, gradients and optimizer
//! state, a data set, faer's packing buffers) starts on a 2 MiB boundary and is
//! advised to the kernel as wanting transparent huge pages
//! (`madvise(MADV_HUGEPAGE)`). Where the kernel leaves huge pages to such
//! advice (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise`, the
//! default of many distributions), the matrix products then walk 2 MiB pages
//! instead of 4 KiB ones: one TLB entry where 512 were (BENCHMARKS.md, round
//! 12, has the measurements). Elsewhere (THP `never`, other systems) the advice
//! is ignored and only the alignment remains.
//!
//! Nothing else changes: the values, and so every log, are the same bits with
//! or without it. The binary installs it (`#[global_allocator]` in
//! `main.rs`); the library and its tests use the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations of at least this many bytes start on a huge-page boundary and are
/// advised as wanting huge pages. Smaller ones could not fill a huge page.
pub const LARGE: usize = HUGE_PAGE;

/// The size (and alignment) of an x86-64 or AArch64 transparent huge page.
const HUGE_PAGE: usize = 1 << 21;

/// The system allocator, large allocations on transparent huge pages (see the
/// module documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct HugePages;

impl HugePages {
    /// The layout the system allocator is asked for: `layout`, aligned to a huge
    /// page when it is large. A function of `layout` alone, so that `dealloc`
    /// and `realloc` find the layout `alloc` used.
    fn system_layout(layout: Layout) -> Layout {
        if layout.size() >= LARGE && layout.align() < HUGE_PAGE {
            Layout::from_size_align(layout.size(), HUGE_PAGE).unwrap_or(layout)
        } else {
            layout
        }
    }
}

// SAFETY (the trait's contract): every block comes from `System` with the
// layout `system_layout` derives from the caller's, which is at least as large
// and as aligned as the caller's, and goes back to `System` with the same
// derived layout. `advise` only passes whole pages inside the block to
// `madvise`, which changes how the kernel backs them, never their contents.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let system = Self::system_layout(layout);
        // SAFETY: `system` has a non-zero size (at least `layout`'s, which the
        // caller guarantees non-zero).
        let p = unsafe { System.alloc(system) };
        if system.size() >= LARGE {
            advise(p, system.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let system = Self::system_layout(layout);
        if system.size() < LARGE {
            // SAFETY: as in `alloc`.
            return unsafe { System.alloc_zeroed(system) };
        }
        // Advised before the zeros are written, so that the first touch of
        // each page faults in a huge page (the system allocator would zero a
        // block this aligned by writing it, in 4 KiB pages).
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc(system) };
        if !p.is_null() {
            advise(p, system.size());
            // SAFETY: `p` points to `system.size()` writable bytes.
            unsafe { std::ptr::write_bytes(p, 0, system.size()) };
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`alloc_zeroed`/`realloc` with this
        // same derived layout.
        unsafe { System.dealloc(ptr, Self::system_layout(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = Self::system_layout(layout);
        let Ok(wanted) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let new = Self::system_layout(wanted);
        if new.align() == old.align() {
            // SAFETY: `ptr` was allocated with `old`; `new_size` is non-zero
            // and, rounded to the alignment, does not overflow (checked by
            // `from_size_align` above).
            let p = unsafe { System.realloc(ptr, old, new_size) };
            if new.size() >= LARGE {
                advise(p, new.size());
            }
            return p;
        }
        // Across the threshold the alignment changes, which the system's
        // `realloc` cannot do: a new block, the contents copied.
        // SAFETY: `wanted` has a non-zero size.
        let p = unsafe { self.alloc(wanted) };
        if !p.is_null() {
            // SAFETY: both blocks hold at least the smaller size and do not
            // overlap (the new one is a fresh allocation); the old one is then
            // freed with the layout it was allocated with.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        p
    }
}

/// Advises the whole pages of `len` bytes from `p` as wanting huge pages; the
/// kernel's answer is ignored (the advice is an optimisation).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise(p: *mut u8, len: usize) {
    const PAGE: usize = 4096;
    if p.is_null() {
        return;
    }
    let start = (p as usize).div_ceil(PAGE) * PAGE;
    let end = (p as usize).saturating_add(len) / PAGE * PAGE;
    if end > start {
        // SAFETY: `start..end` lies inside a block the system allocator just
        // handed out; MADV_HUGEPAGE changes no contents and no protection.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_: *mut u8, _: usize) {}

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
                if size >= LARGE {
                    assert_eq!(p as usize % HUGE_PAGE, 0);
                }
                fill(p, size, 3);
            }
            a.dealloc(p, layout);
        }
        // The system allocator is still sound: a Vec through it works.
        let v: Vec<u64> = (0..100_000).collect();
        assert_eq!(v.iter().sum::<u64>(), 99_999 * 100_000 / 2);
    }
}

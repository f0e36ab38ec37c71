package replay

import (
	"math/rand/v2"
	"testing"
)

func accept(t *testing.T, w *Window, c uint64, want bool) {
	t.Helper()
	if check := w.Check(c); check != want {
		t.Fatalf("Check(%d) = %v, want %v (largest %d)", c, check, want, w.largest)
	}
	if got := w.Accept(c); got != want {
		t.Fatalf("Accept(%d) = %v, want %v (largest %d)", c, got, want, w.largest)
	}
}

func TestWindowIsAtLeast2048(t *testing.T) {
	if WindowSize < 2048 {
		t.Fatalf("WindowSize %d < 2048", WindowSize)
	}
}

func TestInOrder(t *testing.T) {
	var w Window
	for c := range uint64(10000) {
		accept(t, &w, c, true)
		accept(t, &w, c, false) // duplicate at once
	}
	for c := range uint64(10000) {
		accept(t, &w, c, false) // everything again: duplicates or too old
	}
}

func TestOutOfOrderWithinWindow(t *testing.T) {
	var w Window
	const top = 100000
	accept(t, &w, top, true)
	// Everything in the window, in random order, once each.
	order := rand.Perm(WindowSize + 1)
	for _, i := range order {
		accept(t, &w, top-uint64(i), i != 0) // i == 0 is top itself, a duplicate
	}
	for _, i := range order {
		accept(t, &w, top-uint64(i), false)
	}
	accept(t, &w, top-WindowSize-1, false) // just too old
	accept(t, &w, 0, false)
}

func TestTooOld(t *testing.T) {
	var w Window
	accept(t, &w, 5000, true)
	accept(t, &w, 5000-WindowSize, true)
	accept(t, &w, 5000-WindowSize-1, false)
	// Exactly 2048 behind is always judged.
	accept(t, &w, 1<<40, true)
	accept(t, &w, 1<<40-2048, true)
	accept(t, &w, 1<<40-2048, false)
	// The newest counter's position within its block does not narrow it.
	for _, top := range []uint64{1<<20 + 0, 1<<20 + 1, 1<<20 + 63, 1<<20 + 64} {
		var w Window
		accept(t, &w, top, true)
		accept(t, &w, top-WindowSize, true)
		accept(t, &w, top-WindowSize-1, false)
	}
}

func TestSlideAcrossBlocks(t *testing.T) {
	var w Window
	for _, c := range []uint64{0, 63, 64, 65, 127, 128, 129} {
		accept(t, &w, c, true)
	}
	for _, c := range []uint64{1, 62, 66, 126} {
		accept(t, &w, c, true) // gaps still open
	}
	// A jump of exactly one ring, and of more: old blocks must be clear, not
	// alias the new ones.
	base := uint64(129)
	for _, jump := range []uint64{ringBlocks * blockBits, ringBlocks*blockBits + 1, 3*ringBlocks*blockBits + 7, 1 << 50} {
		c := base + jump
		accept(t, &w, c, true)
		// Counters in the same ring slots as ones accepted before the jump
		// are new and must be accepted.
		for d := uint64(1); d < 200 && d <= WindowSize; d++ {
			if c-d > base {
				accept(t, &w, c-d, true)
			}
		}
		base = c
	}
}

func TestReset(t *testing.T) {
	var w Window
	accept(t, &w, 10, true)
	w.Reset()
	accept(t, &w, 10, true)
	accept(t, &w, 0, true)
}

// TestAgainstModel compares with the obvious (unbounded) implementation on
// random walks: accept a counter iff never seen and at most WindowSize
// below the largest seen.
func TestAgainstModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var w Window
		seen := map[uint64]bool{}
		var largest uint64
		pos := uint64(0)
		for range 20000 {
			switch r := rng.IntN(10); {
			case r < 6:
				pos += uint64(rng.IntN(100))
			case r < 9:
				pos -= min(pos, uint64(rng.IntN(WindowSize+200)))
			default:
				pos += uint64(rng.IntN(3 * WindowSize))
			}
			want := !seen[pos] && (pos > largest || largest-pos <= WindowSize)
			if got := w.Accept(pos); got != want {
				t.Fatalf("seed %d: Accept(%d) = %v, model says %v (largest %d)", seed, pos, got, want, largest)
			}
			if want {
				seen[pos] = true
				largest = max(largest, pos)
			}
		}
	}
}

func TestCheckDoesNotRecord(t *testing.T) {
	var w Window
	for range 3 {
		if !w.Check(7) {
			t.Fatal("Check(7) on an empty window")
		}
	}
	if w.Largest() != 0 || !w.Accept(7) || w.Largest() != 7 {
		t.Fatal("Check moved the window")
	}
}

func BenchmarkAccept(b *testing.B) {
	var w Window
	b.ReportAllocs()
	var c uint64
	for b.Loop() {
		c++
		w.Accept(c)
	}
}

// TestNewer: a counter is newer only above every one accepted; any counter
// is, in an empty window, 0 included; one accepted out of order below the
// largest changes nothing.
func TestNewer(t *testing.T) {
	var w Window
	for _, c := range []uint64{0, 1, 5000} {
		if !w.Newer(c) {
			t.Errorf("empty window: Newer(%d) = false", c)
		}
	}
	w.Accept(0)
	if w.Newer(0) || !w.Newer(1) {
		t.Errorf("after 0: Newer(0) %v, Newer(1) %v; want false, true", w.Newer(0), w.Newer(1))
	}
	w.Accept(100)
	w.Accept(50)
	for c, want := range map[uint64]bool{0: false, 50: false, 99: false, 100: false, 101: true} {
		if w.Newer(c) != want {
			t.Errorf("after 0, 100, 50: Newer(%d) = %v, want %v", c, !want, want)
		}
	}
}

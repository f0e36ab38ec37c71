// Package replay is a sliding anti-replay window over 64-bit packet counters,
// in the style of RFC 6479: a ring of 64-bit blocks, so sliding the window
// clears whole blocks instead of shifting bits.
package replay

const (
	blockBits  = 64                           // bits per block
	blockShift = 6                            // log2(blockBits)
	ringBlocks = 64                           // blocks in the ring; a power of two
	blockMask  = ringBlocks - 1               // block number → ring slot
	bitMask    = blockBits - 1                // counter → bit in its block
	WindowSize = (ringBlocks - 1) * blockBits // counters this far behind the newest are still judged
)

// Window remembers which counters of one session have been seen. A counter is
// accepted once; a counter more than WindowSize below the largest seen is too
// old to judge and is refused. The zero value is an empty window. A Window is
// not safe for concurrent use: its owner's lock guards it.
//
// The ring always holds the block of the largest counter seen and the
// ringBlocks-1 blocks below it; one block beyond the window is spare, so the
// window is never narrower than WindowSize whatever the newest counter's
// position in its block.
type Window struct {
	largest uint64
	ring    [ringBlocks]uint64
}

// Check reports whether counter would be accepted, without recording it.
// Call it before the expensive work (authenticating the packet), then
// Accept once the packet has proven genuine: a forged counter must never
// move the window.
func (w *Window) Check(counter uint64) bool {
	if counter > w.largest {
		return true
	}
	if w.largest-counter > WindowSize {
		return false
	}
	return w.ring[(counter>>blockShift)&blockMask]&(1<<(counter&bitMask)) == 0
}

// Accept records counter and reports whether it was new (true) or a replay
// or too old (false, and nothing changes).
func (w *Window) Accept(counter uint64) bool {
	if !w.Check(counter) {
		return false
	}
	if counter > w.largest {
		// Slide: clear the blocks between the old largest's block and the new
		// one (all of them if the jump is at least a ring's worth).
		from, to := w.largest>>blockShift, counter>>blockShift
		if to-from >= ringBlocks {
			w.ring = [ringBlocks]uint64{}
		} else {
			for b := from + 1; b <= to; b++ {
				w.ring[b&blockMask] = 0
			}
		}
		w.largest = counter
	}
	w.ring[(counter>>blockShift)&blockMask] |= 1 << (counter & bitMask)
	return true
}

// Newer reports whether counter is above every counter accepted so far (any
// counter is, if none has been).
func (w *Window) Newer(counter uint64) bool {
	return counter > w.largest || counter == w.largest && w.Check(counter)
}

// Largest is the largest counter accepted so far (0 if none).
func (w *Window) Largest() uint64 { return w.largest }

// Reset empties the window.
func (w *Window) Reset() { *w = Window{} }

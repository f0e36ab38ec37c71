package chat

import (
	"bytes"
	"testing"
)

// IDs made one after another sort in the order they were made, even
// within one microsecond (but at the wrap of their low 32 bits, every 71
// minutes), so a burst's rows go to one place in the stores' (peer,
// direction, ID) index; their first 8 hex digits, which name a message in
// the UIs, differ; and their random halves differ.
func TestIDsGrowAndDiffer(t *testing.T) {
	const n = 10_000
	prev := newID()
	random := map[[8]byte]bool{[8]byte(prev[8:]): true}
	short := map[string]bool{prev.String()[:8]: true}
	for range n {
		id := newID()
		if bytes.Compare(id[:], prev[:]) <= 0 && id[0] >= prev[0] {
			t.Fatalf("ID %s made after %s sorts before it", id, prev)
		}
		if short[id.String()[:8]] {
			t.Fatalf("ID %s starts as an earlier one", id)
		}
		short[id.String()[:8]] = true
		if random[[8]byte(id[8:])] {
			t.Fatalf("ID %s repeats the random half of an earlier one", id)
		}
		random[[8]byte(id[8:])] = true
		prev = id
	}
}

package main

import (
	"slices"
	"strings"
	"testing"
)

// The receipt is what makes the e2e scenarios check order and completeness:
// lines out of order, repeated or garbled must count, and only every line
// sent, intact, completes the run.
func TestReceiptCountsWhatAUserWouldNotice(t *testing.T) {
	lines := makeLines(5)
	for _, l := range lines {
		if len(l) != 60 {
			t.Fatalf("line %q is %d bytes, want 60", l, len(l))
		}
	}
	garbled := slices.Clone(lines[2])
	garbled[len(garbled)-1] = '?'
	for _, tc := range []struct {
		name       string
		got        [][]byte
		misordered int64 // arrivals that do not follow the one before
		delivered  int64
		complete   bool
	}{
		{"in order", lines, 0, 5, true},
		{"two swapped", [][]byte{lines[0], lines[2], lines[1], lines[3], lines[4]}, 3, 5, true},
		{"one twice", [][]byte{lines[0], lines[1], lines[1], lines[2], lines[3]}, 1, 4, false},
		{"one garbled", [][]byte{lines[0], lines[1], garbled, lines[3], lines[4]}, 2, 4, false},
		{"one missing", [][]byte{lines[0], lines[1], lines[3], lines[4]}, 1, 4, false},
		{"not a line", [][]byte{[]byte("alice left"), lines[0]}, 1, 1, false},
	} {
		r := newReceipt(lines)
		for _, l := range tc.got {
			r.onLine(l)
		}
		var s sample
		r.result(&s, &system{reliable: true})
		complete := false
		select {
		case <-r.all:
			complete = true
		default:
		}
		if s.misordered != tc.misordered || s.delivered != tc.delivered || complete != tc.complete {
			t.Errorf("%s: misordered %d, delivered %d, complete %v; want %d, %d, %v",
				tc.name, s.misordered, s.delivered, complete, tc.misordered, tc.delivered, tc.complete)
		}
	}
}

// A process's output arrives in chunks that split lines anywhere.
func TestLineWriterJoinsSplitLines(t *testing.T) {
	var got []string
	w := &lineWriter{fn: func(l []byte) { got = append(got, string(l)) }}
	for _, chunk := range []string{"alice: one\nalice: t", "w", "o\n\nalice: three\n", "alice: unfinished"} {
		if n, err := w.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if want := []string{"alice: one", "alice: two", "", "alice: three"}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if !strings.HasPrefix(string(w.buf), "alice: unfinished") {
		t.Errorf("kept %q, want the unfinished line", w.buf)
	}
}

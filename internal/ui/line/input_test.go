package line

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestLineReader(t *testing.T) {
	const max = 10
	in := "one\r\ntwo\n\n" +
		strings.Repeat("x", max) + "\r\n" + // exactly max: kept
		strings.Repeat("y", max+1) + "\n" + // over: refused
		strings.Repeat("z", 3*readBufSize) + "\n" + // far over, past the buffer: refused
		"last"
	want := []struct {
		line string
		err  error
	}{
		{"one", nil}, {"two", nil}, {"", nil}, {strings.Repeat("x", max), nil},
		{"", ErrLineTooLong}, {"", ErrLineTooLong},
		{"last", nil}, {"", io.EOF},
	}
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
		lr := newLineReader(r, max)
		for i, w := range want {
			line, err := lr.next()
			if line != w.line || !errors.Is(err, w.err) {
				t.Fatalf("line %d: %q, %v; want %q, %v", i, line, err, w.line, w.err)
			}
		}
		if cap(lr.buf) > 4*max {
			t.Errorf("buffer grew to %d bytes for lines of at most %d", cap(lr.buf), max)
		}
	}
}

func TestReadLinesStopsAtReadErrors(t *testing.T) {
	boom := errors.New("boom")
	stop := make(chan struct{})
	defer close(stop)
	lines := ReadLines(io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(boom)), 10, stop)
	if in := <-lines; in.Line != "a" || in.Err != nil {
		t.Fatalf("first input %+v", in)
	}
	if in := <-lines; !errors.Is(in.Err, boom) {
		t.Fatalf("second input %+v, want the read error", in)
	}
	if _, ok := <-lines; ok {
		t.Fatal("lines still open after a read error")
	}
}

// Lines that were read together say so (More), so that they can be sent
// together; a line with nothing whole after it, as typed, does not.
func TestReadLinesMore(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	pr, pw := io.Pipe()
	lines := ReadLines(pr, 100, stop)
	go pw.Write([]byte("one\ntwo\nthree\n"))
	for _, want := range []Input{{Line: "one", More: true}, {Line: "two", More: true}, {Line: "three"}} {
		if in := <-lines; in != want {
			t.Fatalf("input %+v, want %+v", in, want)
		}
	}
	go pw.Write([]byte("typed\n"))
	if in := <-lines; in != (Input{Line: "typed"}) {
		t.Fatalf("input %+v, want a lone line", in)
	}
	pw.Close()
	if _, ok := <-lines; ok {
		t.Fatal("lines still open at the end of input")
	}
}

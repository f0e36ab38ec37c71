package line

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// readBufSize is the reader's buffer. A longer line is read in several
// pieces, never in one allocation the size of whatever the input holds.
const readBufSize = 64 << 10

// ErrLineTooLong is what lineReader.next returns for a line over its limit;
// the whole line has been read and discarded.
var ErrLineTooLong = errors.New("line too long")

// lineReader splits input into lines of at most max bytes, holding no more
// than max bytes of any one line.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, readBufSize), max: max}
}

// next returns the next line without its "\n" or "\r\n". The last line
// needs no newline. At the end of input it returns io.EOF.
func (lr *lineReader) next() (string, error) {
	lr.buf = lr.buf[:0]
	size := 0 // of the whole line, kept or not
	for {
		chunk, err := lr.r.ReadSlice('\n')
		size += len(chunk)
		// Keep up to max bytes of text plus a "\r\n".
		if size <= lr.max+2 {
			lr.buf = append(lr.buf, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && size > 0 {
			break // a last line with no newline
		}
		if err != nil {
			return "", err
		}
		break
	}
	line := trimEOL(lr.buf)
	if size > lr.max+2 || len(line) > lr.max {
		return "", ErrLineTooLong
	}
	return string(line), nil
}

// ready reports whether a whole line is already read and waiting in the
// buffer: reading it will not wait for the input.
func (lr *lineReader) ready() bool {
	b, _ := lr.r.Peek(lr.r.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// Input is one line read, or why reading stopped.
type Input struct {
	Line string
	Err  error // ErrLineTooLong (and reading goes on), or what ended the input
	// More says another whole line was already read when this one was
	// handed over: they came together (a paste, a pipe), and may be sent
	// together. Nothing waits to see if more will come.
	More bool
}

// ReadLines reads in on its own goroutine, so that messages print while the
// user types (and a signal is heard while a script's input is silent), and
// hands each line over until the input ends (the channel is closed) or stop
// is closed. A Read still pending when stop closes keeps the goroutine
// until it returns: nothing can interrupt a Read on a terminal.
func ReadLines(in io.Reader, max int, stop <-chan struct{}) <-chan Input {
	lines := make(chan Input)
	go func() {
		defer close(lines)
		lr := newLineReader(in, max)
		for {
			line, err := lr.next()
			if err == io.EOF {
				return
			}
			select {
			case lines <- Input{Line: line, Err: err, More: lr.ready()}:
			case <-stop:
				return
			}
			if err != nil && err != ErrLineTooLong {
				return
			}
		}
	}()
	return lines
}

package line

import (
	"bytes"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// Editor reads what the user types on a terminal, a line at a time with
// line editing (arrows, Up/Down for earlier lines, Ctrl+W, …), and keeps
// the line being typed whole while messages arrive: a write through it
// clears that line, prints, and draws the line again below. Without it the
// terminal echoes keys by itself, and a message printed while the user
// types lands in the middle of their line.
//
// It is golang.org/x/term's Terminal, which does exactly that redraw: a
// library udpchat already depends on, kept by the Go project, where
// github.com/chzyer/readline has been unmaintained since 2022 and its
// maintained fork, github.com/ergochat/readline, is not served by the
// module proxy this project builds from.
//
// The terminal is in raw mode until Close or the end of the input, so
// Ctrl+C arrives as a key, not as SIGINT: the Editor calls interrupt for it,
// which should do what the signal does. At the end of the input (Ctrl+D) it
// gives the terminal back at once: nothing reads keys any more, and Ctrl+C
// must still stop the wait for delivery that follows.
type Editor struct {
	t        *term.Terminal
	fd       int
	saved    *term.State
	restored sync.Once
	// rest is what Read has not yet handed over of the last line; only
	// Read, which one goroutine calls, touches it.
	rest []byte
}

// NewEditor puts the terminal in into raw mode and returns an Editor that
// reads keys from it and draws on out (the same terminal: the one of
// stdout or stderr). Close restores the terminal.
func NewEditor(in, out *os.File, interrupt func()) (*Editor, error) {
	fd := int(in.Fd())
	saved, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	e := &Editor{fd: fd, saved: saved}
	keys := keyReader{in: in, interrupt: interrupt, resize: e.resize}
	e.t = term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{keys, out}, "")
	e.resize()
	return e, nil
}

// Read hands over the lines typed, each ending in "\n"; io.EOF means Ctrl+D
// on an empty line, which ends the input as it does in a cooked terminal.
func (e *Editor) Read(p []byte) (int, error) {
	if len(e.rest) == 0 {
		line, err := e.t.ReadLine()
		if err != nil {
			e.Close()
			return 0, err
		}
		e.rest = append([]byte(line), '\n')
	}
	n := copy(p, e.rest)
	e.rest = e.rest[n:]
	return n, nil
}

// Write prints p above the line being typed, which it then draws again.
func (e *Editor) Write(p []byte) (int, error) {
	e.resize()
	return e.t.Write(p)
}

// Close restores the terminal to the mode it had; only the first call
// does anything.
func (e *Editor) Close() error {
	var err error
	e.restored.Do(func() { err = term.Restore(e.fd, e.saved) })
	return err
}

// resize tells the Terminal the terminal's width, which it wraps the line
// at; it is asked before each read and write (an ioctl), since a resize
// sends no key.
func (e *Editor) resize() {
	if w, h, err := term.GetSize(e.fd); err == nil {
		e.t.SetSize(w, h)
	}
}

// ctrlC is the byte Ctrl+C sends in raw mode.
const ctrlC = 0x03

// keyReader reads keys from the terminal for the Terminal, taking out
// Ctrl+C, which the Terminal would read as the end of the input, and
// calling interrupt for it instead.
type keyReader struct {
	in        io.Reader
	interrupt func()
	resize    func()
}

func (k keyReader) Read(p []byte) (int, error) {
	n, err := k.in.Read(p)
	if i := bytes.IndexByte(p[:n], ctrlC); i >= 0 {
		k.interrupt()
		n = i // what was typed after it is not wanted either
	}
	k.resize()
	return n, err
}

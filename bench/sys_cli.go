package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// udpchat-cli: two udpchat processes in line mode, as a user runs them.

// executable is the udpchat program udpchat-cli runs: the one --udpchat
// names, or else cmd/udpchat of the module under test, built on first use.
type executable struct {
	once sync.Once
	path string
	dir  string // the build's temporary directory, which remove removes
	err  error
}

// udpchatExe is the one executable of a run.
var udpchatExe executable

func (e *executable) get() (string, error) {
	e.once.Do(func() {
		if e.path == "" {
			e.path, e.dir, e.err = buildUDPChat()
		}
	})
	return e.path, e.err
}

// remove removes what get built, if anything.
func (e *executable) remove() {
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// buildUDPChat builds cmd/udpchat of the udpchat module this benchmark's
// go.mod points at (the checkout it sits in), with that module's own
// go.mod, into a new temporary directory.
func buildUDPChat() (path, dir string, err error) {
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/udpchat/udpchat")
	var stderr bytes.Buffer
	list.Stderr = &stderr
	out, err := list.Output()
	if err != nil {
		return "", "", fmt.Errorf("finding the udpchat module (run from bench/, or pass --udpchat): %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	dir, err = os.MkdirTemp("", "udpchat-bench-")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "udpchat")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", path, "./cmd/udpchat")
	build.Dir = strings.TrimSpace(string(out))
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("building udpchat: %w\n%s", err, out)
	}
	return path, dir, nil
}

// warmupLine is the line sent, and waited for, before the clock starts.
const warmupLine = "warm-up"

// viaProcesses is udpchat-cli's pipeSystem: bob, then alice with bob as her
// peer, each a udpchat in line mode with a data dir of its own, so each has
// its store as shipped (synchronous=FULL), in a temporary directory (on
// TMPDIR's disk). Lines go into alice's stdin, one write each; bob prints
// each as "alice: LINE", and LINE goes to onLine. A warm-up line, waited
// for, has done the handshake before the clock starts. At the end alice's
// input ends, so she waits for the last acknowledgements and leaves (exit 0:
// everything delivered), and then bob's.
func viaProcesses(ctx context.Context, _ *system, _ uint64, onLine func([]byte), body func(pipe) (sample, error)) (sample, error) {
	exe, err := udpchatExe.get()
	if err != nil {
		return sample{}, err
	}
	dir, err := os.MkdirTemp("", "udpchat-bench-chat-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)

	warm := make(chan struct{}, 1)
	bob, err := startChat(ctx, exe, filepath.Join(dir, "bob"), "bob", func(l []byte) {
		text, ok := bytes.CutPrefix(l, []byte("alice: "))
		switch {
		case !ok:
			onLine(l) // not alice's: the receipt counts it as garbage
		case string(text) == warmupLine:
			select {
			case warm <- struct{}{}:
			default:
			}
		default:
			onLine(text)
		}
	})
	if err != nil {
		return sample{}, err
	}
	defer bob.stop()
	addr, err := bob.listening()
	if err != nil {
		return sample{}, err
	}
	alice, err := startChat(ctx, exe, filepath.Join(dir, "alice"), "alice", nil, "-p", addr)
	if err != nil {
		return sample{}, err
	}
	defer alice.stop()

	if err := alice.write([]byte(warmupLine)); err != nil {
		return sample{}, fmt.Errorf("warm-up: %w", alice.failure(err))
	}
	select {
	case <-warm:
	case <-alice.exited:
		return sample{}, fmt.Errorf("warm-up: %w", alice.failure(errors.New("exited")))
	case <-bob.exited:
		return sample{}, fmt.Errorf("warm-up: %w", bob.failure(errors.New("exited")))
	case <-time.After(10 * time.Second):
		return sample{}, errors.New("warm-up: not printed in 10s")
	case <-ctx.Done():
		return sample{}, ctx.Err()
	}
	children := func() time.Duration { return processCPU(alice.cmd.Process.Pid) + processCPU(bob.cmd.Process.Pid) }
	s, err := measure(func() (sample, error) { return body(alice) }, children)
	if err != nil || s.incomplete {
		return s, err // stop kills what is still running
	}
	for _, p := range []*chatProcess{alice, bob} {
		if err := p.finish(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// chatProcess is one udpchat in line mode.
type chatProcess struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	buf    []byte // write's, for the line and its newline
	addr   chan string
	mu     sync.Mutex
	tail   []string      // the last lines of stderr, for a failure's message
	exited chan struct{} // closed when cmd.Wait has returned, with err set
	err    error
}

// listeningRE is line mode's first line on stderr.
var listeningRE = regexp.MustCompile(`^udpchat: listening on (\S+) as `)

// startChat starts udpchat in line mode with a fresh data dir, listening on
// a free loopback port, as name, with extra flags. Its stdout lines go to
// onStdout (nil: discarded); it is killed if ctx ends.
func startChat(ctx context.Context, exe, dataDir, name string, onStdout func([]byte), extra ...string) (*chatProcess, error) {
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return nil, err
	}
	args := append([]string{"--line", "--data-dir", dataDir, "-l", "127.0.0.1:0", "-n", name}, extra...)
	p := &chatProcess{name: name, cmd: exec.CommandContext(ctx, exe, args...), addr: make(chan string, 1), exited: make(chan struct{})}
	if onStdout != nil {
		p.cmd.Stdout = &lineWriter{fn: onStdout}
	}
	p.cmd.Stderr = &lineWriter{fn: p.onStderr}
	p.cmd.WaitDelay = 5 * time.Second
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *chatProcess) onStderr(l []byte) {
	if m := listeningRE.FindSubmatch(l); m != nil {
		select {
		case p.addr <- string(m[1]):
		default:
		}
	}
	const keep = 10
	p.mu.Lock()
	p.tail = append(p.tail, string(l))
	if len(p.tail) > keep {
		p.tail = p.tail[len(p.tail)-keep:]
	}
	p.mu.Unlock()
}

// listening waits for the address the process says it listens on.
func (p *chatProcess) listening() (string, error) {
	select {
	case a := <-p.addr:
		return a, nil
	case <-p.exited:
		return "", p.failure(errors.New("exited before listening"))
	case <-time.After(10 * time.Second):
		return "", p.failure(errors.New("not listening after 10s"))
	}
}

// write types one line into the process. One goroutine at a time.
func (p *chatProcess) write(line []byte) error {
	p.buf = append(append(p.buf[:0], line...), '\n')
	_, err := p.stdin.Write(p.buf)
	return err
}

// finish ends the process's input and waits (up to 20s: line mode's own
// wait for delivery is 10s) for it to leave, which must be with status 0.
func (p *chatProcess) finish() error {
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		return p.failure(errors.New("still running 20s after its input ended"))
	}
	if p.err != nil {
		return p.failure(p.err)
	}
	return nil
}

// stop kills the process unless it has exited, and waits for it.
func (p *chatProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.stdin.Close()
	p.cmd.Process.Kill()
	<-p.exited
}

// failure is err with the process's name and its last lines on stderr.
func (p *chatProcess) failure(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Errorf("udpchat %s: %w; its stderr ended:\n  %s", p.name, err, strings.Join(p.tail, "\n  "))
}

// lineWriter hands each whole line written to it, without its newline, to
// fn (the slice is valid during the call only).
type lineWriter struct {
	fn  func([]byte)
	buf []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	rest := w.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.fn(rest[:i])
		rest = rest[i+1:]
	}
	w.buf = append(w.buf[:0], rest...)
	return len(b), nil
}

// processCPU is the user plus system CPU time process pid has used so far,
// from /proc/PID/stat (in clock ticks, which Linux fixes at 100 a second
// for user space), or 0 if it cannot be read.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after it. utime and stime are fields 14 and 15 of the line, so 12th
	// and 13th after the name.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	const tick = time.Second / 100
	return time.Duration(utime+stime) * tick
}

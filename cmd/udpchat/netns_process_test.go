//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chatPort is the port both lab hosts' udpchat listen on.
const chatPort = 9001

// chatProcess is one real udpchat in line mode inside a lab namespace.
type chatProcess struct {
	name   string
	cmd    *exec.Cmd
	stdout *lineRecorder
	stderr *lineRecorder
	fed    chan error    // the stdin feeder's result, once
	exited chan struct{} // closed when the process has exited

	waitOnce sync.Once
	waitErr  error
}

// startChat starts udpchat as name on host, talking to peer, and types input
// into it, a line each. It ends the input once the process has printed
// expect lines: like a person who stays until the other side has said
// everything, since at end of input udpchat waits only for its own messages
// to be delivered. t.Cleanup kills the process if it is still running.
func startChat(ctx context.Context, t *testing.T, bin, name string, host, peer labHost, input []string, expect int) *chatProcess {
	t.Helper()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", host.ns, bin,
		"--listen", netip.AddrPortFrom(host.addr, chatPort).String(),
		"--peer", netip.AddrPortFrom(peer.addr, chatPort).String(),
		"--name", name,
		"--timeout", "60s",
		"--data-dir", t.TempDir(), // its own identity and history, not the user's
	)
	p := &chatProcess{
		name:   name,
		cmd:    cmd,
		stdout: newLineRecorder(expect),
		stderr: newLineRecorder(0),
		fed:    make(chan error, 1),
		exited: make(chan struct{}),
	}
	cmd.Stdout = p.stdout
	cmd.Stderr = p.stderr
	cmd.WaitDelay = 10 * time.Second
	// ip netns exec execs udpchat in place, so this reaches udpchat: it dies
	// with the test process even if the cleanups never run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("%s: stdin pipe: %v", name, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd, err)
	}
	t.Cleanup(func() { p.kill(t) })
	go func() { p.fed <- p.feed(ctx, stdin, input) }()
	return p
}

// feed writes input to the process, then ends it once the process has
// printed what it should, has exited, or the test's time is up.
func (p *chatProcess) feed(ctx context.Context, stdin io.WriteCloser, input []string) error {
	defer stdin.Close()
	w := bufio.NewWriter(stdin)
	for _, line := range input {
		w.WriteString(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing its input: %w", err)
	}
	select {
	case <-p.stdout.full:
	case <-p.exited:
	case <-ctx.Done():
	}
	return nil
}

// wait waits for the process to exit and returns why it failed, if it did:
// a non-zero exit, or its input not taken.
func (p *chatProcess) wait() error {
	p.waitOnce.Do(func() {
		err := p.cmd.Wait()
		close(p.exited)
		p.waitErr = errors.Join(err, <-p.fed)
	})
	return p.waitErr
}

// kill ends the process if it still runs and waits for it.
func (p *chatProcess) kill(t testing.TB) {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("killing %s: %v", p.name, err)
	}
	p.wait()
}

// stderrTail is the end of what the process wrote to stderr, for failure
// messages.
func (p *chatProcess) stderrTail() string {
	lines, partial := p.stderr.result()
	if partial != "" {
		lines = append(lines, partial)
	}
	const keep = 30
	var b strings.Builder
	if len(lines) > keep {
		fmt.Fprintf(&b, "\t… %d lines before\n", len(lines)-keep)
		lines = lines[len(lines)-keep:]
	}
	for _, l := range lines {
		fmt.Fprintf(&b, "\t%s\n", shorten(l))
	}
	return b.String()
}

// lineRecorder is an io.Writer that keeps what is written as lines, and
// closes full once want lines have come.
type lineRecorder struct {
	mu      sync.Mutex
	partial []byte   // the unterminated last line
	lines   []string // each without its '\n'
	want    int
	full    chan struct{}
}

func newLineRecorder(want int) *lineRecorder {
	r := &lineRecorder{want: want, full: make(chan struct{})}
	if want <= 0 {
		close(r.full)
	}
	return r
}

func (r *lineRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	had := len(r.lines)
	r.partial = append(r.partial, b...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		r.lines = append(r.lines, string(r.partial[:i]))
		r.partial = r.partial[i+1:]
	}
	if had < r.want && len(r.lines) >= r.want {
		close(r.full)
	}
	return len(b), nil
}

// result returns the complete lines and what follows the last newline.
func (r *lineRecorder) result() (lines []string, partial string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...), string(r.partial)
}

// shorten quotes s for a message, cut to a readable length.
func shorten(s string) string {
	const keep = 72
	if len(s) <= keep {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…(%d bytes)", s[:keep], len(s))
}

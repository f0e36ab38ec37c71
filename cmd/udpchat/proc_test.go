package main

import (
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/testenv"
)

// waitTimeout bounds every wait for a process; generous, since the
// binary may be built with -race and the machine busy.
const waitTimeout = 20 * time.Second

// stream is one output of a process, kept whole so that a test can wait
// for a line, or for bytes that are not lines (what nc prints).
type stream struct {
	mu      sync.Mutex
	data    []byte
	changed chan struct{} // closed and replaced on every write
}

func newStream() *stream { return &stream{changed: make(chan struct{})} }

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = append(s.data, p...)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *stream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.data)
}

// lines returns the complete lines so far.
func (s *stream) lines() []string {
	text := s.String()
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		return strings.Split(text[:i], "\n")
	}
	return nil
}

// waitFor waits until the stream satisfies done, failing after waitTimeout.
func (s *stream) waitFor(t testing.TB, what string, done func() bool) {
	t.Helper()
	s.waitWithin(t, waitTimeout, what, done)
}

// waitWithin is waitFor with a bound of d.
func (s *stream) waitWithin(t testing.TB, d time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if done() {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			text := s.String()
			t.Fatalf("no %s within %v; got %d bytes, ending:\n%s", what, d, len(text), text[max(0, len(text)-2000):])
		}
	}
}

// waitLine waits for a complete line matching pattern and returns its
// submatches.
func (s *stream) waitLine(t testing.TB, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	var match []string
	s.waitFor(t, "line matching "+pattern, func() bool {
		for _, l := range s.lines() {
			if match = re.FindStringSubmatch(l); match != nil {
				return true
			}
		}
		return false
	})
	return match
}

// proc is a process under test, killed at the end of the test if still
// running.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *stream
	stderr *stream
	done   chan struct{} // closed when the process has exited and its output is in
}

// start runs name with args, in an environment whose home and config
// directories are the test's own.
func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	home := t.TempDir()
	p := &proc{cmd: exec.Command(name, args...), stdout: newStream(), stderr: newStream(), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(waitTimeout):
			t.Errorf("%s did not exit after kill", name)
		}
	})
	return p
}

// udpchat starts the binary under test.
func udpchat(t testing.TB, args ...string) *proc {
	t.Helper()
	return start(t, udpchatBinary, args...)
}

// say writes lines to the process's input.
func (p *proc) say(t testing.TB, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(p.stdin, l+"\n"); err != nil {
			t.Fatalf("writing %q: %v", l, err)
		}
	}
}

// listening waits for udpchat's first line and returns the address it
// names, which is how a test learns a port picked with --listen IP:0.
func (p *proc) listening(t testing.TB) string {
	t.Helper()
	return p.stderr.waitLine(t, `^udpchat: listening on (\S+) as `)[1]
}

// exit waits for the process to exit and returns its exit code.
func (p *proc) exit(t testing.TB) int {
	t.Helper()
	return p.exitWithin(t, waitTimeout)
}

// exitWithin is exit with a bound of d.
func (p *proc) exitWithin(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v; stderr:\n%s", p.cmd.Args, d, p.stderr)
		return -1
	}
}

// wantExit ends the input and checks the exit code.
func (p *proc) wantExit(t testing.TB, code int) {
	t.Helper()
	p.stdin.Close()
	if got := p.exit(t); got != code {
		t.Errorf("%s exited %d, want %d; stderr:\n%s", p.cmd.Args, got, code, p.stderr)
	}
}

// freeUDPPort returns a port nothing listens on (now) on 127.0.0.1.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

// requireTmux skips the test under -short, and needs tmux.
func requireTmux(t *testing.T) {
	t.Helper()
	testenv.SkipInShort(t, "tmux")
	testenv.RequireTool(t, "tmux")
}

// wantUsageError runs udpchat with args and checks it fails as a usage
// error: exit 2, one line on stderr matching the regexp want.
func wantUsageError(t *testing.T, args []string, want string) {
	t.Helper()
	wantFailure(t, args, 2, want)
}

// wantFailure runs udpchat with args and checks it fails as a user must
// see it: exit code, one line on stderr, "udpchat: " and then the reason,
// matching the regexp want, and nothing on stdout.
func wantFailure(t *testing.T, args []string, code int, want string) {
	t.Helper()
	p := udpchat(t, args...)
	if got := p.exit(t); got != code {
		t.Errorf("%q: exit %d, want %d", args, got, code)
	}
	lines := p.stderr.lines()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "udpchat: ") || !regexp.MustCompile(want).MatchString(lines[0]) {
		t.Errorf("%q: stderr %q, want one line \"udpchat: ...\" matching %q", args, p.stderr, want)
	}
	if out := p.stdout.String(); out != "" {
		t.Errorf("%q: stdout %q, want nothing", args, out)
	}
}

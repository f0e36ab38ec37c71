package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The terminal UI, for real: two udpchat processes, each in a tmux pane,
// typed into with send-keys and read with capture-pane.
func TestTUITwoPeersInTmux(t *testing.T) {
	requireTmux(t)
	tm := newTmux(t)
	alicePort, bobPort := freeUDPPort(t), freeUDPPort(t)
	alice := tm.start("alice", "--listen", "127.0.0.1:"+alicePort, "--peer", "127.0.0.1:"+bobPort, "--name", "alice")
	bob := tm.start("bob", "--listen", "127.0.0.1:"+bobPort, "--peer", "127.0.0.1:"+alicePort, "--name", "bob")

	alice.waitScreen(`udpchat · alice · 127\.0\.0\.1:` + alicePort)
	alice.waitScreen(`bob joined \(127\.0\.0\.1:` + bobPort + `, key BLAKE2s:[A-Z2-7]{4}-[A-Z2-7]{4}…\)`)
	bob.waitScreen(`alice joined \(127\.0\.0\.1:` + alicePort + `, key BLAKE2s:[A-Z2-7]{4}-[A-Z2-7]{4}…\)`)

	bob.typeLine("hello alice, from tmux")
	alice.waitScreen(`bob: hello alice, from tmux`)
	bob.waitScreen(`✓✓ bob: hello alice, from tmux`)

	// Small terminals work too: nothing is wider than the pane.
	alice.resize(40, 10)
	screen := alice.waitScreen(`bob: hello alice`)
	for _, l := range strings.Split(screen, "\n") {
		if n := utf8.RuneCountInString(l); n > 40 {
			t.Errorf("at 40x10 a line is %d wide: %q", n, l)
		}
	}

	// Ctrl+C leaves, and the peer sees it.
	bob.keys("C-c")
	alice.waitScreen(`bob left`)
	if code := bob.exitCode(); code != 0 {
		t.Errorf("bob exited %d after Ctrl+C, want 0; stderr:\n%s", code, bob.stderr())
	}
	alice.typeLine("/quit")
	if code := alice.exitCode(); code != 0 {
		t.Errorf("alice exited %d after /quit, want 0; stderr:\n%s", code, alice.stderr())
	}
}

// tmux is a tmux server of the test's own, killed when the test ends.
type tmux struct {
	t      *testing.T
	socket string // the server's name (-L)
	path   string // its socket file, once known
	dir    string
}

func newTmux(t *testing.T) *tmux {
	tm := &tmux{t: t, socket: fmt.Sprintf("udpchat-test-%d-%d", os.Getpid(), time.Now().UnixNano()), dir: t.TempDir()}
	t.Cleanup(func() {
		exec.Command("tmux", "-L", tm.socket, "kill-server").Run()
		if tm.path != "" {
			os.Remove(tm.path) // kill-server leaves it behind
		}
	})
	return tm
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pane is one udpchat running in a tmux session of its own.
type pane struct {
	tm   *tmux
	name string
	dir  string // its --data-dir, and where its stderr and exit code go
}

// start runs udpchat with args (and a --data-dir of its own) in a 100x30
// pane. Its stderr goes to a file, so that a race report or a panic is not
// lost on the screen.
func (tm *tmux) start(name string, args ...string) *pane {
	tm.t.Helper()
	return tm.startEnv(nil, name, args...)
}

// startEnv is start with the variables of env (NAME=VALUE) set.
func (tm *tmux) startEnv(env []string, name string, args ...string) *pane {
	tm.t.Helper()
	p := &pane{tm: tm, name: name, dir: filepath.Join(tm.dir, name)}
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		tm.t.Fatal(err)
	}
	args = append(args, "--data-dir", p.dir)
	cmd := "env"
	for _, a := range append(env, udpchatBinary) {
		cmd += " " + shellQuote(a)
	}
	for _, a := range args {
		cmd += " " + shellQuote(a)
	}
	cmd += " 2>" + shellQuote(p.file("stderr")) + "; echo $? >" + shellQuote(p.file("exit")) + "; sleep 600"
	tm.run("new-session", "-d", "-s", name, "-x", "100", "-y", "30", cmd)
	if tm.path == "" {
		tm.path = strings.TrimSpace(tm.run("display-message", "-p", "#{socket_path}"))
	}
	return p
}

func (p *pane) file(name string) string { return filepath.Join(p.dir, "tmux-"+name) }

func (p *pane) stderr() string {
	b, _ := os.ReadFile(p.file("stderr"))
	return string(b)
}

func (p *pane) capture() string { return p.tm.run("capture-pane", "-p", "-t", p.name) }

// waitScreen polls the pane until its screen matches re, and returns the
// screen. The terminal sends no events, so polling it is; the interval is
// short and the wait bounded.
func (p *pane) waitScreen(re string) string {
	p.tm.t.Helper()
	return p.wait("screen", p.capture, re)
}

// waitStderr is waitScreen for what udpchat wrote to stderr: line mode's
// notices.
func (p *pane) waitStderr(re string) string {
	p.tm.t.Helper()
	return p.wait("stderr", p.stderr, re)
}

func (p *pane) wait(what string, read func() string, re string) string {
	p.tm.t.Helper()
	want := regexp.MustCompile(re)
	deadline := time.Now().Add(waitTimeout)
	for {
		text := read()
		if want.MatchString(text) {
			return text
		}
		if time.Now().After(deadline) {
			p.tm.t.Fatalf("%s's %s never matched %q within %v; screen:\n%s\nstderr:\n%s", p.name, what, re, waitTimeout, p.capture(), p.stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *pane) keys(keys ...string) {
	p.tm.t.Helper()
	p.tm.run(append([]string{"send-keys", "-t", p.name}, keys...)...)
}

// typeLine types text literally and presses Enter.
func (p *pane) typeLine(text string) {
	p.tm.t.Helper()
	p.keys("-l", text)
	p.keys("Enter")
}

func (p *pane) resize(w, h int) {
	p.tm.t.Helper()
	p.tm.run("resize-window", "-t", p.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h))
}

// exitCode waits for udpchat in the pane to exit and returns its code.
func (p *pane) exitCode() int {
	p.tm.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if b, err := os.ReadFile(p.file("exit")); err == nil && strings.HasSuffix(string(b), "\n") {
			var code int
			fmt.Sscan(string(b), &code)
			if strings.Contains(p.stderr(), "DATA RACE") {
				p.tm.t.Errorf("%s reported a data race:\n%s", p.name, p.stderr())
			}
			return code
		}
		if time.Now().After(deadline) {
			p.tm.t.Fatalf("%s did not exit within %v; its screen:\n%s", p.name, waitTimeout, p.capture())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

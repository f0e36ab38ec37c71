package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/trust"
)

// When the known peers cannot be read, a peer's key is refused, and the
// user is told why in one line: the reason is not glued on with a newline
// that prints as a literal \n.
func TestUncheckableKeyRefusalIsOneReadableLine(t *testing.T) {
	bobDir := t.TempDir()
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "--data-dir", bobDir)
	bobAddr := bob.listening(t)
	if err := os.WriteFile(filepath.Join(bobDir, trust.FileName), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := udpchat(t, "-l", anyPort, "-n", "alice", "-p", bobAddr, "--timeout", "1s")
	alice.say(t, "hello")
	line := bob.stderr.waitLine(t, `^udpchat: refusing a peer's key because the known peers cannot be checked.*`)[0]
	if strings.Contains(line, `\n`) || !strings.Contains(line, "line 1") {
		t.Errorf("the refusal reads %q; want one line that names the bad line", line)
	}
	alice.wantExit(t, 1)
}

// TERM=dumb cannot draw the full-screen UI: udpchat falls back to line
// mode, and says so by its first line, as line mode does.
func TestDumbTerminalGetsLineMode(t *testing.T) {
	requireTool(t, "tmux")
	tm := newTmux(t)
	p := tm.startEnv([]string{"TERM=dumb"}, "dumb", "-l", anyPort, "-n", "dumb")
	waitFile(t, p.file("stderr"), "udpchat: listening on 127.0.0.1:")
	p.typeLine("/quit")
	if code := p.exitCode(); code != 0 {
		t.Errorf("exit %d after /quit, want 0; stderr:\n%s", code, p.stderr())
	}
	if screen := p.capture(); strings.Contains(screen, "Nobody is here yet") || strings.Contains(screen, "Type a message") {
		t.Errorf("TERM=dumb shows the terminal UI:\n%s", screen)
	}
}

// waitFile polls the file at path until it contains want; a file has no
// events to wait on, so polling it is, at a short interval and bounded.
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never had %q within %v; it has:\n%s", path, want, waitTimeout, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

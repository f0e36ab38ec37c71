package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
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
	requireTmux(t)
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

// udpchat send is the scripting tool that works beside a running chat: on
// the chat's data dir (whose store the chat holds) and while the chat has
// its port, it sends each line of its input as a message, under the name
// the chat goes by (remembered in the data dir, not the login name), and
// exits 0 once every one is delivered.
func TestSendBesideARunningChat(t *testing.T) {
	aliceDir := t.TempDir()
	bob := udpchat(t, "-l", anyPort, "-n", "bob")
	bobAddr := bob.listening(t)
	alice := udpchat(t, "-l", anyPort, "-n", "alice", "-p", bobAddr, "--data-dir", aliceDir)
	alice.listening(t)
	alice.say(t, "from the chat")
	bob.stdout.waitLine(t, `^alice: from the chat$`)

	send := udpchat(t, "send", "-p", bobAddr, "--data-dir", aliceDir, "-")
	send.say(t, "build finished", "", "all tests green")
	send.wantExit(t, 0)
	bob.stdout.waitLine(t, `^alice: all tests green$`)

	// /nick is remembered too, and the next send goes by it.
	alice.say(t, "/nick alicia")
	alice.stderr.waitLine(t, `^\* you are now known as alicia$`)
	send = udpchat(t, "send", "-p", bobAddr, "--data-dir", aliceDir, "deploy", "done")
	send.wantExit(t, 0)
	bob.stdout.waitLine(t, `^alicia: deploy done$`)

	want := []string{"alice: from the chat", "alice: build finished", "alice: all tests green", "alicia: deploy done"}
	if got := bob.stdout.lines(); !slices.Equal(got, want) {
		t.Errorf("bob was shown %q, want %q", got, want)
	}
	alice.wantExit(t, 0)
	bob.wantExit(t, 0)

	// A chat started later on that data dir goes by the remembered name.
	again := udpchat(t, "-l", anyPort, "--data-dir", aliceDir)
	again.stderr.waitLine(t, `^udpchat: listening on \S+ as alicia$`)
	again.wantExit(t, 0)
}

// send - with its input piped in at once: the lines arrive in order, each
// once, though they are sent in bursts; a line too long to send is named by
// its number, the lines around it go, and the exit status says one was not
// sent.
func TestSendPipedLinesInOrder(t *testing.T) {
	bob := udpchat(t, "-l", anyPort, "-n", "bob")
	bobAddr := bob.listening(t)
	const n, tooLong = 1500, 700
	var in strings.Builder
	var want []string
	for i := 1; i <= n; i++ {
		if i == tooLong {
			in.WriteString(strings.Repeat("x", chat.MaxTextLen+1) + "\n")
			continue
		}
		fmt.Fprintf(&in, "line %d\n", i)
		want = append(want, fmt.Sprintf("alice: line %d", i))
	}
	send := udpchat(t, "send", "-p", bobAddr, "--name", "alice", "-")
	if _, err := io.WriteString(send.stdin, in.String()); err != nil {
		t.Fatal(err)
	}
	send.wantExit(t, 1)
	if got := send.stderr.lines(); len(got) != 2 || !strings.HasPrefix(got[0], fmt.Sprintf("udpchat: line %d not sent: it is longer than", tooLong)) {
		t.Errorf("send's stderr %q, want line %d named, then the summary", got, tooLong)
	}
	bob.stdout.waitFor(t, "every line at bob", func() bool { return len(bob.stdout.lines()) >= len(want) })
	if got := bob.stdout.lines(); !slices.Equal(got, want) {
		t.Errorf("bob was shown %d lines, want the %d sent once each, in order", len(got), len(want))
	}
	bob.wantExit(t, 0)
}

// Line mode on a terminal: a message that arrives while the user types is
// printed above the line being typed, which stays whole below it, and is
// sent whole when finished. Ctrl+C leaves, as it does in the terminal UI.
func TestLineModeKeepsTheLineBeingTyped(t *testing.T) {
	requireTmux(t)
	tm := newTmux(t)
	alicePort := freeUDPPort(t)
	alice := tm.start("alice", "--line", "-l", "127.0.0.1:"+alicePort, "-n", "alice")
	waitFile(t, alice.file("stderr"), "udpchat: listening on 127.0.0.1:"+alicePort)
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "-p", "127.0.0.1:"+alicePort)
	bob.say(t, "first")
	alice.waitScreen(`(?m)^bob: first$`)

	alice.keys("-l", "half a li")
	alice.waitScreen(`(?m)^half a li$`)
	bob.say(t, "hello alice")
	screen := alice.waitScreen(`(?m)^bob: hello alice$`)
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	if i := slices.Index(lines, "bob: hello alice"); i < 0 || i+1 >= len(lines) || lines[i+1] != "half a li" {
		t.Errorf("the message broke into the line being typed:\n%s", screen)
	}
	alice.keys("-l", "ne")
	alice.keys("Enter")
	bob.stdout.waitLine(t, `^alice: half a line$`)

	alice.keys("C-c")
	if code := alice.exitCode(); code != 0 {
		t.Errorf("alice exited %d after Ctrl+C, want 0; stderr:\n%s", code, alice.stderr())
	}
	bob.stderr.waitLine(t, `^\* alice left$`)
	bob.wantExit(t, 0)
}

// A /msg is marked as for the receiver alone, end to end: in the
// receiver's line mode and JSON, and in both sides' history.
func TestDirectMessageIsMarkedEverywhere(t *testing.T) {
	requireTmux(t)
	bobDir := t.TempDir()
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "--data-dir", bobDir)
	bobAddr := bob.listening(t)
	tm := newTmux(t)
	alice := tm.start("alice", "-l", anyPort, "-n", "alice", "-p", bobAddr)
	alice.waitScreen(`bob joined`)
	alice.typeLine("to everyone")
	bob.stdout.waitLine(t, `^alice: to everyone$`)
	alice.typeLine("/msg bob psst")
	bob.stdout.waitLine(t, `^alice → you: psst$`)
	alice.waitScreen(`✓✓ alice → bob: psst`)
	alice.typeLine("/quit")
	alice.exitCode()
	bob.wantExit(t, 0)

	for _, dir := range []string{bobDir, alice.dir} {
		lines := history(t, "--data-dir", dir)
		if len(lines) != 2 || strings.Contains(lines[0], "[direct]") || !strings.Contains(lines[1], "[direct]  alice: psst") {
			t.Errorf("history of %s:\n%s\nwant the second message, and only it, marked [direct]", dir, strings.Join(lines, "\n"))
		}
		if js := history(t, "--data-dir", dir, "--json"); len(js) != 2 || strings.Contains(js[0], `"direct"`) || !strings.Contains(js[1], `"direct":true`) {
			t.Errorf("history --json of %s:\n%s\nwant the second message, and only it, direct", dir, strings.Join(js, "\n"))
		}
	}
}

package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/testenv"
)

// Every udpchat here listens on 127.0.0.1 port 0, so tests never collide
// with each other or with a chat on the default port.
const anyPort = "127.0.0.1:0"

func TestPlainBothDirections(t *testing.T) {
	alice := udpchat(t, "--plain", "--listen", anyPort, "--name", "alice")
	aliceAddr := alice.listening(t)
	bob := udpchat(t, "--plain", "-l", anyPort, "-n", "bob", "-p", aliceAddr)
	bobAddr := bob.listening(t)

	// bob writes twice: an address that wrote once may be forged, and is
	// not sent to until it writes again.
	bob.say(t, "hello alice", "are you there?")
	alice.stdout.waitLine(t, `^bob: are you there\?$`)
	alice.say(t, "hi bob")
	bob.stdout.waitLine(t, `^alice: hi bob$`)
	bob.say(t, "bye")
	if code := bob.exit(t); code != 0 {
		t.Errorf("bob exited %d after bye, want 0", code)
	}
	alice.stdout.waitLine(t, `^bob: bye$`)
	alice.stderr.waitLine(t, `^\* bob left$`) // bye is how a plain peer says it goes
	alice.wantExit(t, 0)

	want := []string{
		"udpchat: listening on " + aliceAddr + " as alice",
		"udpchat: PLAIN MODE: messages are sent unencrypted and unacknowledged",
		"* bob joined (" + bobAddr + ")",
		"* bob left",
	}
	if got := alice.stderr.lines(); !slices.Equal(got, want) {
		t.Errorf("alice's stderr:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := alice.stdout.lines(); !slices.Equal(got, []string{"bob: hello alice", "bob: are you there?", "bob: bye"}) {
		t.Errorf("alice's stdout: %q", got)
	}
}

// udpchat --plain must talk to nc -u byte for byte, with nc listening...
func TestPlainWithNetcatListening(t *testing.T) {
	testenv.RequireTool(t, "nc")
	port := freeUDPPort(t)
	nc := start(t, "nc", "-v", "-u", "-l", "127.0.0.1", port)
	nc.stderr.waitLine(t, `^Bound on`)

	alice := udpchat(t, "--plain", "-l", anyPort, "-n", "alice", "-p", "127.0.0.1:"+port)
	alice.listening(t)
	alice.say(t, "hello")
	nc.stdout.waitFor(t, "datagram at nc", func() bool { return len(nc.stdout.String()) >= len("alice:hello") })
	if got := nc.stdout.String(); got != "alice:hello" {
		t.Fatalf("nc received %q, want exactly %q", got, "alice:hello")
	}
	nc.say(t, "bob:hi from nc") // nc answers whoever wrote to it
	alice.stdout.waitLine(t, `^bob: hi from nc$`)
	alice.stderr.waitLine(t, `^\* bob joined \(127\.0\.0\.1:`+port+`\)$`)
	alice.wantExit(t, 0)
}

// ...and with nc sending first, from a port we learn from the datagram.
func TestPlainWithNetcatConnecting(t *testing.T) {
	testenv.RequireTool(t, "nc")
	alice := udpchat(t, "--plain", "-l", anyPort, "-n", "alice")
	addr := alice.listening(t)
	host, port, _ := net.SplitHostPort(addr)
	nc := start(t, "nc", "-u", host, port)

	// Twice (see TestPlainBothDirections), a line at a time: nc sends
	// what it has read as one datagram.
	nc.say(t, "carol:hello alice")
	alice.stdout.waitLine(t, `^carol: hello alice$`)
	nc.say(t, "carol:anyone?")
	alice.stdout.waitLine(t, `^carol: anyone\?$`)
	alice.stderr.waitLine(t, `^\* carol joined \(127\.0\.0\.1:\d+\)$`)
	alice.say(t, "hi carol")
	nc.stdout.waitFor(t, "datagram at nc", func() bool { return len(nc.stdout.String()) >= len("alice:hi carol") })
	if got := nc.stdout.String(); got != "alice:hi carol" {
		t.Fatalf("nc received %q, want exactly %q", got, "alice:hi carol")
	}
	alice.wantExit(t, 0)
}

func TestUsageErrors(t *testing.T) {
	inUse, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inUse.Close()
	for _, tc := range []struct {
		args []string
		want string // a regexp the one line of stderr must match
	}{
		{[]string{"--bogus"}, `unknown flag: --bogus \(see 'udpchat --help'\)`},
		{[]string{"--timeout", "soon"}, `invalid argument "soon" for "--timeout"`},
		{[]string{"--timeout", "-1s"}, `--timeout -1s: must be more than zero`},
		{[]string{"--listen", "localhost:7475"}, `listen localhost:7475: bad address: host "localhost" is not an IP address`},
		{[]string{"--listen", "127.0.0.1:99999"}, `port 99999 is out of range`},
		{[]string{"--listen", inUse.LocalAddr().String()}, `address already in use`},
		{[]string{"--peer", "127.0.0.1"}, `peer 127.0.0.1: bad address`},
		{[]string{"--peer", "no-such-host.invalid:7475"}, `cannot resolve host "no-such-host.invalid"`},
		{[]string{"--name", "a:b"}, `name "a:b" contains a colon`},
		{[]string{"-n", "alice", "hello"}, `unexpected argument "hello".*udpchat send -p ADDR TEXT`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; the commands are send, history, contacts, id, trust, relay, version and help`},
		{[]string{"send", "hello"}, `no peer to send to: give one with -p ADDR \(see 'udpchat send --help'\)`},
		{[]string{"send", "-p", "127.0.0.1:9"}, `nothing to send`},
		{[]string{"send", "-p", "127.0.0.1:9", "--timeout", "0s", "x"}, `--timeout 0s: must be more than zero`},
		{[]string{"send", "--room", "ops", "-p", "127.0.0.1:9", "--file", "x"}, `--file does not go to a room: .* /send PATH offers it to every member`},
		{[]string{"version", "now"}, `unexpected argument "now"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			wantUsageError(t, tc.args, tc.want) // each fails before it would bind a port
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		p := udpchat(t, args...)
		p.wantExit(t, 0)
		if out := p.stdout.String(); !regexp.MustCompile(`^udpchat \S+ \(go1\.\d+\S* \S+/\S+\)\n$`).MatchString(out) {
			t.Errorf("%s printed %q", args, out)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	shared := []string{"--name", "--listen", "--peer", "--plain", "--data-dir", "--timeout", "--log"}
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"--help"}, append(shared, "--line", "--json", "--no-discovery", "-n,", "-l,", "-p,", "-v, --version")},
		{[]string{"-h"}, append(shared, "--line", "--json")},
		{[]string{"help"}, append(shared, "--line", "--json")},
		{[]string{"send", "--help"}, shared},
		{[]string{"contacts", "--help"}, []string{"--json", "-y, --yes", "--data-dir", "rename PEER NAME", "forget PEER"}},
		{[]string{"version", "-h"}, []string{"udpchat version"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			p := udpchat(t, tc.args...)
			p.wantExit(t, 0)
			out := p.stdout.String()
			for _, f := range tc.flags {
				if !strings.Contains(out, f) {
					t.Errorf("help does not mention %s:\n%s", f, out)
				}
			}
			if strings.Contains(out, "[=true|false]") {
				t.Errorf("help shows a boolean flag taking a value:\n%s", out)
			}
		})
	}
}

func TestDataDirAndLogAreCreatedPrivate(t *testing.T) {
	dir := t.TempDir()
	data, log := filepath.Join(dir, "data"), filepath.Join(dir, "udpchat.log")
	p := udpchat(t, "--plain", "-l", anyPort, "--data-dir", data, "--log", log)
	p.listening(t)
	p.wantExit(t, 0)
	for path, mode := range map[string]os.FileMode{data: 0o700 | os.ModeDir, log: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, want mode %v", path, err, mode)
		}
	}
}

func TestSendPlain(t *testing.T) {
	alice := udpchat(t, "--plain", "-l", anyPort, "-n", "alice")
	aliceAddr := alice.listening(t)
	send := udpchat(t, "send", "--plain", "-p", aliceAddr, "-n", "bob", "hi", "there")
	if code := send.exit(t); code != 0 {
		t.Errorf("send exited %d, want 0; stderr:\n%s", code, send.stderr)
	}
	if got := send.stderr.lines(); !slices.Equal(got, []string{"udpchat: PLAIN MODE: messages are sent unencrypted and unacknowledged"}) {
		t.Errorf("send's stderr %q, want the plain mode warning alone", got)
	}
	alice.stdout.waitLine(t, `^bob: hi there$`)
	alice.wantExit(t, 0)
}

// The reliable-mode tests below need internal/transport.

func TestReliableBothDirectionsAndBye(t *testing.T) {
	alice := udpchat(t, "-l", anyPort, "-n", "alice")
	aliceAddr := alice.listening(t)
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "-p", aliceAddr)
	bobAddr := bob.listening(t)

	bob.say(t, "hello alice")
	alice.stdout.waitLine(t, `^bob: hello alice$`)
	alice.stderr.waitLine(t, `^\* bob joined \(`+regexp.QuoteMeta(bobAddr)+`, key BLAKE2s:[A-Z2-7]{4}(?:-[A-Z2-7]{4}){7}\)$`)
	alice.say(t, "hi bob")
	bob.stdout.waitLine(t, `^alice: hi bob$`)
	bob.stderr.waitLine(t, `^\* alice joined \(`+regexp.QuoteMeta(aliceAddr)+`, key BLAKE2s:[A-Z2-7]{4}(?:-[A-Z2-7]{4}){7}\)$`)
	bob.say(t, "goodbye", "BYE")
	if code := bob.exit(t); code != 0 {
		t.Errorf("bob exited %d after bye, want 0; stderr:\n%s", code, bob.stderr)
	}
	alice.stderr.waitLine(t, `^\* bob left$`)
	if got := alice.stdout.lines(); !slices.Equal(got, []string{"bob: hello alice", "bob: goodbye", "bob: BYE"}) {
		t.Errorf("alice's stdout: %q", got)
	}
	alice.wantExit(t, 0)
}

func TestReliableJSON(t *testing.T) {
	alice := udpchat(t, "-l", anyPort, "-n", "alice", "--json")
	aliceAddr := alice.listening(t)
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "--json", "-p", aliceAddr)
	bobAddr := bob.listening(t)

	bob.say(t, "hi <3")
	msg := jsonLine(t, alice.stdout, "message")
	if msg["name"] != "bob" || msg["text"] != "hi <3" || msg["from"] != bobAddr {
		t.Errorf("message %v", msg)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(msg["id"].(string)) {
		t.Errorf("message id %v", msg["id"])
	}
	if joined := jsonLine(t, alice.stdout, "joined"); joined["name"] != "bob" || joined["peer"] != bobAddr {
		t.Errorf("joined %v", joined)
	}
	sent := jsonLine(t, bob.stdout, "sent")
	delivered := jsonLine(t, bob.stdout, "delivered")
	if sent["id"] != msg["id"] || delivered["id"] != msg["id"] || sent["to"] != aliceAddr || sent["text"] != "hi <3" {
		t.Errorf("sent %v and delivered %v, want both for message %v", sent, delivered, msg["id"])
	}
	bob.wantExit(t, 0)
	jsonLine(t, alice.stdout, "left")
	alice.wantExit(t, 0)
}

// jsonLine waits for the JSON event of type typ on s and returns it. Every
// line on s must be a JSON object.
func jsonLine(t *testing.T, s *stream, typ string) map[string]any {
	t.Helper()
	var ev map[string]any
	s.waitFor(t, typ+" event", func() bool {
		for _, l := range s.lines() {
			ev = nil
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("stdout line %q is not JSON: %v", l, err)
			}
			if ev["type"] == typ {
				return true
			}
		}
		return false
	})
	return ev
}

func TestPipedLinesAreAllDelivered(t *testing.T) {
	alice := udpchat(t, "-l", anyPort, "-n", "alice")
	aliceAddr := alice.listening(t)
	bob := udpchat(t, "-l", anyPort, "-n", "bob", "-p", aliceAddr)
	bob.say(t, "a", "b", "c")
	bob.wantExit(t, 0) // only once all three are delivered
	if got := alice.stdout.lines(); !slices.Equal(got, []string{"bob: a", "bob: b", "bob: c"}) {
		t.Errorf("alice's stdout %q, want a, b and c from bob", got)
	}
	alice.wantExit(t, 0)
}

func TestSendDelivers(t *testing.T) {
	alice := udpchat(t, "-l", anyPort, "-n", "alice")
	aliceAddr := alice.listening(t)
	send := udpchat(t, "send", "-p", aliceAddr, "--name", "bob", "hi", "there")
	if code := send.exit(t); code != 0 {
		t.Errorf("send exited %d, want 0; stderr:\n%s", code, send.stderr)
	}
	// Delivered means alice's node has it, so it is printed already.
	if got := alice.stdout.lines(); !slices.Equal(got, []string{"bob: hi there"}) {
		t.Errorf("alice's stdout %q", got)
	}
	alice.wantExit(t, 0)
}

func TestSendToNobodyFails(t *testing.T) {
	port := freeUDPPort(t)
	send := udpchat(t, "send", "-p", "127.0.0.1:"+port, "--timeout", "300ms", "anyone?")
	if code := send.exit(t); code != 1 {
		t.Errorf("send exited %d, want 1", code)
	}
	want := `^udpchat: not delivered within 300ms: 1 message to 127\.0\.0\.1:` + port + `: no acknowledgement`
	if lines := send.stderr.lines(); len(lines) != 1 || !regexp.MustCompile(want).MatchString(lines[0]) {
		t.Errorf("stderr %q, want one line matching %q", send.stderr, want)
	}
}

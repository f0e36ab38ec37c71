package main

import (
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/testenv"
)

// plainSocket is a Go UDP socket on loopback that plays a classic script's
// part: a listening port, or the temporary one it sends from.
type plainSocket struct {
	t    *testing.T
	conn *net.UDPConn
}

func newPlainSocket(t *testing.T) *plainSocket {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &plainSocket{t: t, conn: c}
}

func (s *plainSocket) addr() string { return s.conn.LocalAddr().String() }

// send writes one datagram to the udpchat at to ("127.0.0.1:PORT").
func (s *plainSocket) send(to string, msg string) {
	s.t.Helper()
	if _, err := s.conn.WriteToUDPAddrPort([]byte(msg), netip.MustParseAddrPort(to)); err != nil {
		s.t.Fatal(err)
	}
}

// read returns the next datagram, whole (up to 64 KiB), failing the test
// if none comes within waitTimeout.
func (s *plainSocket) read() string {
	s.t.Helper()
	buf := make([]byte, 65536)
	s.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	n, err := s.conn.Read(buf)
	if err != nil {
		s.t.Fatalf("no datagram at %s: %v", s.addr(), err)
	}
	return string(buf[:n])
}

// The threaded classic script listens on its port and sends each line from
// a temporary one. udpchat --plain -p SCRIPT shows its lines as the
// configured peer's, lists one peer, and sends each line once, to the
// listening port: it used to show the temporary port as a second peer,
// send every line to both, and leave the configured one "connecting".
func TestPlainThreadedScript(t *testing.T) {
	listening, sending := newPlainSocket(t), newPlainSocket(t)
	alice := udpchat(t, "--plain", "--json", "-l", anyPort, "-n", "alice", "-p", listening.addr())
	aliceAddr := alice.listening(t)

	sending.send(aliceAddr, "carol:hi alice\n")
	msg := jsonLine(t, alice.stdout, "message")
	if msg["name"] != "carol" || msg["text"] != "hi alice" || msg["from"] != listening.addr() {
		t.Errorf("message %v, want carol's from %s", msg, listening.addr())
	}
	alice.say(t, "hello carol", "and again")
	for _, want := range []string{"alice:hello carol", "alice:and again"} {
		if got := listening.read(); got != want {
			t.Fatalf("the script's port read %q, want %q", got, want)
		}
	}
	// Each line went to one address: alice's sent events say where.
	alice.stdout.waitFor(t, "two sent events", func() bool {
		return strings.Count(alice.stdout.String(), `"type":"sent"`) >= 2
	})
	alice.wantExit(t, 0)
	if n := strings.Count(alice.stdout.String(), `"type":"sent"`); n != 2 {
		t.Errorf("%d sent events for 2 lines to one peer:\n%s", n, alice.stdout)
	}
	if n := strings.Count(alice.stdout.String(), sending.addr()); n != 0 {
		t.Errorf("the temporary port %s appears %d times in alice's events:\n%s", sending.addr(), n, alice.stdout)
	}
	if n := strings.Count(alice.stdout.String(), `"type":"joined"`); n != 1 {
		t.Errorf("%d joined events, want carol's alone:\n%s", n, alice.stdout)
	}
}

// The classic scripts read recvfrom(1024): a 1,095-byte line arrived cut,
// and udpchat exited 0. It is refused, unless --plain-max allows it.
func TestPlainMaxRefusesWhatTheScriptsCannotRead(t *testing.T) {
	long := strings.Repeat("y", 1095)
	script := newPlainSocket(t)
	alice := udpchat(t, "--plain", "-l", anyPort, "-n", "alice", "-p", script.addr())
	alice.listening(t)
	alice.say(t, long, "short")
	if got := script.read(); got != "alice:short" {
		t.Errorf("the script read %d bytes first, want alice:short", len(got))
	}
	alice.stderr.waitLine(t, `^udpchat: line not sent: too long for plain mode: name:text would be 1101 bytes, .*at most 1024 bytes`)
	alice.wantExit(t, 1)

	bob := udpchat(t, "--plain", "--plain-max", "2000", "-l", anyPort, "-n", "bob", "-p", script.addr())
	bob.listening(t)
	bob.say(t, long)
	if got := script.read(); got != "bob:"+long {
		t.Errorf("with --plain-max 2000 the script read %d bytes, want %d", len(got), len("bob:"+long))
	}
	bob.wantExit(t, 0)
}

// An empty datagram is no message; one with no name says so.
func TestPlainEmptyAndNamelessDatagrams(t *testing.T) {
	alice := udpchat(t, "--plain", "-l", anyPort, "-n", "alice")
	aliceAddr := alice.listening(t)
	nc := newPlainSocket(t)
	for _, d := range []string{"", "\n", "hello, no name\n", "carol:named"} {
		nc.send(aliceAddr, d)
	}
	alice.stdout.waitLine(t, `^carol: named$`)
	alice.wantExit(t, 0)
	want := []string{nc.addr() + " (no name): hello, no name", "carol: named"}
	if got := alice.stdout.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alice's stdout %q, want %q", got, want)
	}
}

// Many sources that write once each (a flood, over loopback, of 300) do not
// get what alice says: the peer she named does, and she is told whom she
// left out.
func TestPlainOneDatagramSourcesGetNothing(t *testing.T) {
	bob := newPlainSocket(t)
	alice := udpchat(t, "--plain", "--json", "-l", anyPort, "-n", "alice", "-p", bob.addr())
	aliceAddr := alice.listening(t)
	const sources = 300
	for range sources {
		newPlainSocket(t).send(aliceAddr, "x")
	}
	alice.stdout.waitFor(t, "the sources' messages", func() bool {
		return strings.Count(alice.stdout.String(), `"type":"message"`) >= sources
	})
	alice.say(t, "for bob only")
	if got := bob.read(); got != "alice:for bob only" {
		t.Errorf("bob read %q", got)
	}
	alice.wantExit(t, 0)
	if n := strings.Count(alice.stdout.String(), `"type":"sent"`); n != 1 {
		t.Errorf("%d sent events, want one, to bob", n)
	}
	if !regexp.MustCompile(`not sent to .* and \d+ more, which have written only once`).MatchString(alice.stdout.String() + alice.stderr.String()) {
		t.Errorf("alice was not told whom she left out; stderr:\n%s", alice.stderr)
	}
}

func TestPlainMaxUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--plain-max", "2000"}, `^udpchat: --plain-max is for --plain, which sends each message as one datagram \(see 'udpchat --help'\)$`},
		{[]string{"--plain", "--plain-max", "2"}, `--plain-max 2: must be from 3 to 65507 bytes`},
		{[]string{"send", "--plain", "--plain-max", "65508", "-p", "127.0.0.1:9", "hi"}, `--plain-max 65508: must be from 3 to 65507 bytes \(see 'udpchat send --help'\)$`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { wantUsageError(t, tc.args, tc.want) })
	}
}

// chatappPy is the threaded classic script as the course hands it out, in
// substance: it listens on its port in a thread, prints what it reads with
// recvfrom(1024), and sends each line typed from a second socket, on a
// temporary port, as name:line; bye or exit ends it.
const chatappPy = `import socket, sys, threading

def receive(sock):
    while True:
        data, addr = sock.recvfrom(1024)
        print(data.decode(), flush=True)

def main():
    port, peer_host, peer_port, name = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", port))
    threading.Thread(target=receive, args=(rx,), daemon=True).start()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for line in sys.stdin:
        line = line.rstrip("\n")
        tx.sendto((name + ":" + line).encode(), (peer_host, peer_port))
        if line.strip().lower() in ("bye", "exit"):
            break

main()
`

// TestPlainWithThreadedScript talks to chatappPy in python3: carol's lines
// show as the peer at her listening port, and each of alice's reaches the
// script once.
func TestPlainWithThreadedScript(t *testing.T) {
	testenv.RequireTool(t, "python3")
	script := t.TempDir() + "/chatapp.py"
	if err := os.WriteFile(script, []byte(chatappPy), 0o600); err != nil {
		t.Fatal(err)
	}
	carolPort := freeUDPPort(t)
	carolAddr := "127.0.0.1:" + carolPort
	alice := udpchat(t, "--plain", "-l", anyPort, "-n", "alice", "-p", carolAddr)
	_, alicePort, _ := net.SplitHostPort(alice.listening(t))
	carol := start(t, "python3", script, carolPort, "127.0.0.1", alicePort, "carol")

	carol.say(t, "hi alice")
	alice.stdout.waitLine(t, `^carol: hi alice$`)
	alice.stderr.waitLine(t, `^\* carol joined \(`+regexp.QuoteMeta(carolAddr)+`\)$`)
	alice.say(t, "hello carol", "second")
	carol.stdout.waitLine(t, `^alice:second$`)
	if got := carol.stdout.lines(); strings.Join(got, "|") != "alice:hello carol|alice:second" {
		t.Errorf("the script printed %q, want each of alice's lines once", got)
	}
	carol.say(t, "bye")
	alice.stderr.waitLine(t, `^\* carol left$`)
	if code := carol.exit(t); code != 0 {
		t.Errorf("the script exited %d; stderr:\n%s", code, carol.stderr)
	}
	alice.wantExit(t, 0)
}

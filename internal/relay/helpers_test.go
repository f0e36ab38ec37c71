package relay

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/udp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tapConn records every byte the relay's socket reads: what a capture on
// the relay's interface would hold.
type tapConn struct {
	udp.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (c *tapConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	n, a, err := c.Conn.ReadFrom(b)
	c.mu.Lock()
	c.got.Write(b[:n])
	c.mu.Unlock()
	return n, a, err
}

func (c *tapConn) contains(p []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Contains(c.got.Bytes(), p)
}

// testRelay is a Server serving on loopback until the test ends.
type testRelay struct {
	*Server
	tap  *tapConn
	stop func()
}

func startRelay(t testing.TB, cfg Config) *testRelay {
	t.Helper()
	if cfg.Static.IsZero() {
		cfg.Static = newKey(t)
	}
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tap := &tapConn{Conn: sock}
	s, err := NewServer(tap, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	var once sync.Once
	r := &testRelay{Server: s, tap: tap}
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

func newKey(t testing.TB) keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testClient is a Client with its own loopback socket and Noise session
// with the relay, running until the test ends (or stop).
type testClient struct {
	*Client
	key       keys.PrivateKey
	delivered chan delivery
	calls     chan delivery
	mails     chan Mail
	rooms     chan delivery
	stop      func()
}

type delivery struct {
	from  keys.PublicKey
	data  []byte
	addrs []netip.AddrPort
}

// clientOpts change a test client's config before it starts.
type clientOpts func(*ClientConfig)

// startClient starts a client that Runs: it registers, refreshes and
// fetches its mail by itself, as the chat's does.
func startClient(t testing.TB, r *testRelay, key keys.PrivateKey, opts ...clientOpts) *testClient {
	t.Helper()
	return runClient(t, r, key, (*Client).Run, opts...)
}

// startQuietClient starts a client that registers once and then sends only
// what the test has it send: it reads, but Run's own registrations, whose
// number and timing are Run's, never go.
func startQuietClient(t testing.TB, r *testRelay, key keys.PrivateKey, opts ...clientOpts) *testClient {
	t.Helper()
	return runClient(t, r, key, func(c *Client, _ context.Context) error { return c.readLoop() }, opts...)
}

// runClient starts a client on a session of its own with r, running run
// until the test ends, and registers it.
func runClient(t testing.TB, r *testRelay, key keys.PrivateKey, run func(*Client, context.Context) error, opts ...clientOpts) *testClient {
	t.Helper()
	sec := dialRelay(t, r, key, netip.MustParseAddr("127.0.0.1"))
	tc := &testClient{
		key:       key,
		delivered: make(chan delivery, 1024),
		calls:     make(chan delivery, 16),
		mails:     make(chan Mail, 64),
		rooms:     make(chan delivery, 64),
	}
	cfg := ClientConfig{
		Conn:  sec,
		Relay: r.Addr(),
		OnDeliver: func(from keys.PublicKey, d []byte) {
			tc.delivered <- delivery{from: from, data: bytes.Clone(d)}
		},
		OnCallMeMaybe: func(from keys.PublicKey, addrs []netip.AddrPort) {
			tc.calls <- delivery{from: from, addrs: addrs}
		},
		OnMail: func(m Mail) { tc.mails <- m },
		OnRoomDeliver: func(from keys.PublicKey, _ RoomID, d []byte) {
			tc.rooms <- delivery{from: from, data: bytes.Clone(d)}
		},
		Retry: 100 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	tc.Client, err = NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(tc.Client, ctx) }()
	var once sync.Once
	tc.stop = func() {
		once.Do(func() {
			cancel()
			sec.Close()
			<-done
		})
	}
	t.Cleanup(tc.stop)
	// Registered once Register returns, as Run's first registration is
	// (and Run's may still be under way).
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, err := tc.Register(rctx); err != nil {
		t.Fatal(err)
	}
	return tc
}

// dialRelay is a Noise session with r for key, on a socket of its own at
// ip: the relay pinned by its key, as a client pins it.
func dialRelay(t testing.TB, r *testRelay, key keys.PrivateKey, ip netip.Addr) *secure.Conn {
	t.Helper()
	sock, err := udp.Listen(netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	relayKey, relayAddr := r.PublicKey(), r.Addr()
	sec, err := secure.NewConn(sock, secure.Config{
		Static: key,
		KnownKey: func(peer netip.AddrPort) (keys.PublicKey, bool) {
			return relayKey, peer == relayAddr
		},
		Verify: func(peer netip.AddrPort, k keys.PublicKey) error {
			if peer != relayAddr || k != relayKey {
				return errors.New("not the relay")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func (tc *testClient) public() keys.PublicKey { return tc.key.Public() }

// receive waits for the next value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
		panic("unreachable")
	}
}

// eventually waits until cond holds: for counters the relay updates on its
// own goroutines after the event a test can see.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeClock is a clock a test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openMailboxes(t *testing.T, dir string) *Mailboxes {
	t.Helper()
	m, err := OpenMailboxes(filepath.Join(dir, MailboxDBName), 4, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileContains(t *testing.T, dir string, p []byte) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, p) {
			return true
		}
	}
	return false
}

package relaycluster

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/udp"
)

// connect is a NATS connection to node first of c, failing over to the
// others in order, as `udpchat relay --nats` makes one.
func connect(t testing.TB, c *natstest.Cluster, first int) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.URLs(first), nats.DontRandomize(), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// clusterRelay is a relay server in a cluster, on loopback UDP, with its
// mailboxes in the cluster's stream.
type clusterRelay struct {
	*relay.Server
	cluster *Cluster
	mail    *Mailboxes
	stop    func()
}

// relayKey is the key every relay of the tests' clusters holds: clients pin
// one key and may register at any of them.
var relayKey = func() keys.PrivateKey {
	k, err := keys.GenerateKey()
	if err != nil {
		panic(err)
	}
	return k
}()

// startClusterRelay starts a relay of cfg (Static, Mailboxes and Cluster
// set here) in the cluster nc is connected to.
func startClusterRelay(t testing.TB, nc *nats.Conn, cfg relay.Config) *clusterRelay {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Join and OpenMailboxes try until JetStream's cluster has a leader
	// and answers.
	jctx, jcancel := context.WithTimeout(ctx, 30*time.Second)
	defer jcancel()
	cl, err := Join(jctx, Config{Conn: nc, TTL: 75 * time.Second, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	mail, err := OpenMailboxes(jctx, MailConfig{Conn: nc, MaxPer: 32, MaxAge: time.Hour, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Static, cfg.Mailboxes, cfg.Cluster = relayKey, mail, cl
	s, err := relay.NewServer(sock, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := cl.Run(ctx, s); err != nil {
			t.Errorf("cluster Run: %v", err)
		}
	})
	wg.Go(func() {
		if err := s.Serve(ctx); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	var once sync.Once
	r := &clusterRelay{Server: s, cluster: cl, mail: mail, stop: func() {
		once.Do(func() { cancel(); wg.Wait() })
	}}
	t.Cleanup(r.stop)
	return r
}

// testClient is a relay.Client on a loopback socket of its own, with a
// Noise session with one relay, pinned by its key.
type testClient struct {
	*relay.Client
	key       keys.PrivateKey
	delivered chan []byte
	calls     chan keys.PublicKey
	mails     chan relay.Mail
}

func startClient(t testing.TB, r *clusterRelay, key keys.PrivateKey) *testClient {
	t.Helper()
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relayAddr := r.Addr()
	sec, err := secure.NewConn(sock, secure.Config{
		Static:   key,
		KnownKey: func(p netip.AddrPort) (keys.PublicKey, bool) { return relayKey.Public(), p == relayAddr },
		Verify: func(p netip.AddrPort, k keys.PublicKey) error {
			if p != relayAddr || k != relayKey.Public() {
				return errors.New("not the relay")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testClient{key: key, delivered: make(chan []byte, 256), calls: make(chan keys.PublicKey, 16), mails: make(chan relay.Mail, 64)}
	tc.Client, err = relay.NewClient(relay.ClientConfig{
		Conn:          sec,
		Relay:         relayAddr,
		OnDeliver:     func(_ keys.PublicKey, d []byte) { tc.delivered <- bytes.Clone(d) },
		OnCallMeMaybe: func(from keys.PublicKey, _ []netip.AddrPort) { tc.calls <- from },
		OnMail:        func(m relay.Mail) { tc.mails <- m },
		Retry:         100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); sec.Close(); <-done })
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if _, err := tc.Register(rctx); err != nil {
		t.Fatal(err)
	}
	return tc
}

func newKey(t testing.TB) keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// eventually waits until cond holds: for what the cluster learns on its own
// goroutines (a registration another relay made, a leader elected).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receive waits for the next value on ch.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
		panic("unreachable")
	}
}

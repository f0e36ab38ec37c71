package relaypath

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// TestRegisterRule: with one relay, registration is as it always was — a
// registration may wait a whole refresh, one unanswered is tried again a
// second later at the same relay, and an answered one is refreshed as the
// relay asks; with several, the relay in use is asked every relayCheck and
// left for the next after relayDead unanswered, so a dead relay is left
// within seconds, not a refresh; a relay asking for a refresh sooner than
// that is asked as often as it wants.
func TestRegisterRule(t *testing.T) {
	const refresh = 25 * time.Second
	one, several := newRegisterRule(1), newRegisterRule(2)
	if one.timeout(refresh) != refresh || one.wait(refresh) != refresh || one.moveOn() {
		t.Errorf("one relay: timeout %v, wait %v, move on %v; want a refresh, a refresh, no", one.timeout(refresh), one.wait(refresh), one.moveOn())
	}
	if !several.moveOn() {
		t.Error("several relays: an unanswered registration does not move on to the next")
	}
	if left := several.wait(refresh) + several.timeout(refresh) + registerRetry; left > 10*time.Second {
		t.Errorf("several relays: a dead one is left only after %v (check %v, timeout %v)", left, several.wait(refresh), several.timeout(refresh))
	}
	if several.wait(time.Second) != time.Second || several.timeout(time.Second) != time.Second {
		t.Errorf("several relays, one asking for a refresh every second: wait %v, timeout %v", several.wait(time.Second), several.timeout(time.Second))
	}
}

// testRelay is a relay server on loopback, until stop or the test's end.
type testRelay struct {
	*relay.Server
	stop func()
}

// startTestRelay starts a relay with no mailboxes, or with mailboxes in a
// temporary dir.
func startTestRelay(t *testing.T, mailboxes bool) *testRelay {
	t.Helper()
	sock, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := relay.Config{Static: mustKey(t)}
	if mailboxes {
		mb, err := relay.OpenMailboxes(filepath.Join(t.TempDir(), relay.MailboxDBName), 16, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mb.Close() })
		cfg.Mailboxes = mb
	}
	s, err := relay.NewServer(sock, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	var once sync.Once
	r := &testRelay{Server: s, stop: func() { once.Do(func() { cancel(); <-done }) }}
	t.Cleanup(r.stop)
	return r
}

// startTestPath is a chat's relay path to relays, in that order, with no
// punching, on a secure conn on loopback that a reader drains; its mail
// goes to onMail (nil: none is fetched).
func startTestPath(t *testing.T, onMail func(relay.Mail), relays ...*testRelay) (*Path, *secure.Conn, *securetest.Reader, string) {
	t.Helper()
	dir := t.TempDir()
	var specs []Spec
	for _, r := range relays {
		specs = append(specs, Spec{Host: r.Addr().String()})
	}
	sock := securetest.ListenLoopback(t, netip.MustParseAddr("127.0.0.1"))
	p, err := New(context.Background(), Config{Relays: specs, Sock: sock, DataDir: dir, NoPunch: true, OnMail: onMail})
	if err != nil {
		t.Fatal(err)
	}
	sec := securetest.NewConn(t, secure.NewConn, p.Conn(), secure.Config{
		Static: mustKey(t),
		KnownKey: func(a netip.AddrPort) (keys.PublicKey, bool) {
			k, _, ok := p.KnownKey(a)
			return k, ok
		},
		Verify: func(a netip.AddrPort, k keys.PublicKey) error {
			err, _ := p.Verify(a, k)
			return err
		},
		Intercept: p.Intercept,
		HandleFor: p.HandleFor,
	})
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx, sec); err != nil {
		t.Fatal(err)
	}
	rd := securetest.StartReader(sec)
	t.Cleanup(func() {
		cancel()
		securetest.CloseAll(t, []udp.Conn{sec}, rd)
	})
	return p, sec, rd, dir
}

// waitUntil waits until cond holds, for what the relays and paths do on
// their own goroutines.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPathMovesOnWhenTheRelayDies: alice and bob name relays A and B; both
// register with A alone. A stops; both move on to B, where alice's lookup
// of bob now goes, and a datagram alice writes to bob's handle reaches him
// through B, from alice's handle. Each relay's key is pinned as learned and
// both are remembered.
func TestPathMovesOnWhenTheRelayDies(t *testing.T) {
	a, b := startTestRelay(t, false), startTestRelay(t, false)
	alice, aliceSec, _, aliceDir := startTestPath(t, nil, a, b)
	_, bobSec, bobReader, _ := startTestPath(t, nil, a, b)
	waitUntil(t, "alice and bob registered with A", func() bool { return a.Stats().Clients == 2 })
	if n := b.Stats().Clients; n != 0 {
		t.Fatalf("%d registered with B while A answers, want none", n)
	}
	ctx := context.Background()
	if _, err := alice.Reach(ctx, bobSec.PublicKey()); err != nil {
		t.Fatalf("alice's lookup of bob through A: %v", err)
	}

	a.stop()
	waitUntil(t, "alice and bob registered with B", func() bool { return b.Stats().Clients == 2 })
	lookups := b.Stats().Lookups
	h, err := alice.Reach(ctx, bobSec.PublicKey())
	if err != nil || b.Stats().Lookups != lookups+1 {
		t.Fatalf("alice's lookup of bob after A died: %v; B answered %d lookups, want %d", err, b.Stats().Lookups, lookups+1)
	}
	if got, want := alice.Describe(h, h), "relayed via "+b.Addr().String(); got != want {
		t.Errorf("alice's path to bob: %q, want %q", got, want)
	}
	if _, err := aliceSec.WriteTo([]byte("through B"), h); err != nil {
		t.Fatal(err)
	}
	for p := bobReader.Next(t); ; p = bobReader.Next(t) {
		if len(p.Data) > 0 { // not a keepalive
			if string(p.Data) != "through B" || p.From != Handle(aliceSec.PublicKey()) {
				t.Errorf("bob read %q from %s, want %q from alice's handle", p.Data, p.From, "through B")
			}
			break
		}
	}
	if b.Stats().Relayed == 0 {
		t.Error("B relayed nothing")
	}
	want := []Spec{{Host: a.Addr().String(), Key: a.PublicKey()}, {Host: b.Addr().String(), Key: b.PublicKey()}}
	if got := remembered(aliceDir); !slices.Equal(got, want) {
		t.Errorf("alice remembers the relays as %+v, want both with their keys %+v", got, want)
	}
}

// TestAckGoesWhereTheMailCameFrom: alice, on relays A,B, fetches a mail bob
// left at A; she moves on to B before she has stored it, and her ack still
// goes to A, which then holds the mail no more; B is told nothing.
func TestAckGoesWhereTheMailCameFrom(t *testing.T) {
	a, b := startTestRelay(t, true), startTestRelay(t, true)
	mail := make(chan relay.Mail, 1)
	alice, aliceSec, _, _ := startTestPath(t, func(m relay.Mail) { mail <- m }, a, b)
	bob, _, _, _ := startTestPath(t, nil, a)
	waitUntil(t, "alice and bob registered with A", func() bool { return a.Stats().Clients == 2 })
	blob, err := relay.SealMail(mustKey(t), aliceSec.PublicKey(), []byte("left at A"))
	if err != nil {
		t.Fatal(err)
	}
	if status, err := bob.PutMail(context.Background(), aliceSec.PublicKey(), blob); err != nil || status != wire.MailStored {
		t.Fatalf("bob's mail to alice at A: status %d, %v", status, err)
	}
	var m relay.Mail
	select {
	case m = <-mail:
	case <-time.After(30 * time.Second):
		t.Fatal("alice never got bob's mail from A")
	}
	alice.moveOn(alice.current())
	waitUntil(t, "alice registered with B", func() bool { return b.Stats().Clients == 1 })
	if err := alice.Ack(m.ID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "A took alice's ack", func() bool { return a.Stats().MailAcked == 1 })
	if st := b.Stats(); st.MailAcked != 0 || st.Dropped() != 0 {
		t.Errorf("B acked %d mails and dropped %d messages, want nothing: the ack is A's", st.MailAcked, st.Dropped())
	}
}

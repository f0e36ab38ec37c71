package chat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// TestStoreRecoversOverTransport: bob's disk fills in the middle of
// alice's 300 messages and has room again two minutes later; with nothing
// more from alice, every message is stored, shown once and in order, and
// delivered, and bob hears once that storing failed and once that it
// works again, before the messages held meanwhile. (That delivery resumes
// on its own, without waiting for alice to send again, is the transport's
// TestDeliveryResumesWhenTheDiskHasRoom.)
func TestStoreRecoversOverTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := udptest.NewMemNetwork()
		bobStore := openTestStore(t, t.TempDir())
		alice, _ := transportNode(t, mn, "10.0.0.1:7475", "alice", nil)
		bob, bobEvents := transportNode(t, mn, "10.0.0.2:7475", "bob", bobStore)
		if err := alice.Connect(bob.LocalAddr()); err != nil {
			t.Fatal(err)
		}

		const total, fits = 300, 3
		var want []string
		send := func(from, to int) {
			for i := from; i < to; i++ {
				want = append(want, fmt.Sprintf("m%03d", i))
				if _, err := alice.Send(want[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		send(0, fits)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := alice.WaitDelivered(ctx); err != nil {
			t.Fatal(err)
		}
		bobStore.setFail(errors.New("the disk is full"))
		send(fits, total)
		time.Sleep(2 * time.Minute) // (virtual) the disk stays full
		if n := len(alice.Undelivered()); n != total-fits {
			t.Fatalf("%d undelivered while bob's disk was full, want %d", n, total-fits)
		}
		bobStore.setFail(nil)
		resumed := time.Now()
		if err := alice.WaitDelivered(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("everything delivered %v after bob's disk had room", time.Since(resumed))
		alice.Leave(ctx)
		bob.Leave(ctx)

		evs := bobEvents()
		var shown []string
		errs, recovered := 0, -1
		for _, ev := range evs {
			switch ev := ev.(type) {
			case Message:
				shown = append(shown, ev.Text)
			case Error:
				errs++
			case StoreRecovered:
				if recovered >= 0 {
					t.Errorf("bob was told twice that the store works again")
				}
				recovered = len(shown)
			}
		}
		if !slices.Equal(shown, want) {
			t.Errorf("bob showed %d messages, want all %d once in order", len(shown), total)
		}
		if errs != 1 || recovered != fits {
			t.Errorf("bob heard of %d store errors and of the recovery after %d messages; want 1, and after %d", errs, recovered, fits)
		}
	})
}

// transportNode starts a node named name, keeping its history in st (nil:
// none), on a transport endpoint at addr on mn. Its events are collected
// until the returned function, called after Close, returns them.
func transportNode(t *testing.T, mn *udptest.MemNetwork, addr, name string, st *testStore) (*Node, func() []Event) {
	t.Helper()
	conn, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: name}
	if st != nil {
		cfg.Store = st
	}
	n, err := New(cfg, func(h link.Handler) (link.Link, error) {
		ep, err := transport.New(conn, h, transport.Config{})
		if err != nil {
			return nil, err
		}
		return ep, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	collected := make(chan []Event, 1) // read or not
	go func() {
		var evs []Event
		for ev := range n.Events() {
			evs = append(evs, ev)
		}
		collected <- evs
	}()
	return n, func() []Event { return <-collected }
}

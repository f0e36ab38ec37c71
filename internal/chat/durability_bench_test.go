package chat_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp"
)

// benchMessages is how many messages one transfer of BenchmarkDurability
// carries.
const benchMessages = 1000

// BenchmarkDurability is what durability costs end to end: alice sends
// benchMessages messages of about 100 bytes to bob over real loopback
// sockets and the reliable transport, and the clock stops when alice has
// every acknowledgement and bob has shown every message. Each iteration
// does it twice, side by side: without stores, then with a store on each
// side (alice's outbox write and delivery mark, bob's AddIncoming before
// his acknowledgement: three commits with synchronous=FULL a message). It
// reports both rates and their ratio. See BENCHMARKS.md.
func BenchmarkDurability(b *testing.B) {
	text := strings.Repeat("durable ", 12) // 96 bytes
	var plainTime, storeTime time.Duration
	for i := 0; i < b.N; i++ {
		plainTime += transfer(b, false, text)
		storeTime += transfer(b, true, text)
	}
	msgs := float64(benchMessages * b.N)
	plainRate, storeRate := msgs/plainTime.Seconds(), msgs/storeTime.Seconds()
	b.ReportMetric(plainRate, "msgs/s-nostore")
	b.ReportMetric(storeRate, "msgs/s-store")
	b.ReportMetric(plainRate/storeRate, "x-slower")
	b.ReportMetric(float64(storeTime-plainTime)/msgs/1e3, "µs/msg-store")
}

// transfer runs one transfer and returns how long it took, setup and
// teardown excluded.
func transfer(b *testing.B, withStore bool, text string) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	shown := make(chan struct{})
	count := 0
	alice, aliceDone := benchNode(b, "alice", withStore, nil)
	bob, bobDone := benchNode(b, "bob", withStore, func(ev chat.Event) { // bob's UI
		if _, ok := ev.(chat.Message); ok {
			if count++; count == benchMessages {
				close(shown)
			}
		}
	})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		bob.Close(ctx)
		alice.Close(ctx)
		<-aliceDone
		<-bobDone
	}()
	if err := alice.Connect(bob.LocalAddr()); err != nil {
		b.Fatal(err)
	}

	b.StartTimer()
	start := time.Now()
	for i := range benchMessages {
		if _, err := alice.Send(fmt.Sprintf("%04d %s", i, text)); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := alice.WaitDelivered(ctx); err != nil {
		b.Fatalf("not delivered: %v", err)
	}
	select {
	case <-shown:
	case <-ctx.Done():
		b.Fatal("bob did not show every message")
	}
	elapsed := time.Since(start)
	b.StopTimer()
	return elapsed
}

// benchNode starts a node on a loopback socket, with a store in a fresh
// data dir if withStore, and reads its events, handing each to onEvent (if
// not nil). done is closed once Events is closed (Close has returned, so
// the node no longer uses the store) and the store is closed.
func benchNode(b *testing.B, name string, withStore bool, onEvent func(chat.Event)) (*chat.Node, <-chan struct{}) {
	b.Helper()
	conn, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := chat.Config{Name: name}
	var st *store.MessageDB
	if withStore {
		if st, err = store.Open(context.Background(), b.TempDir()); err != nil {
			b.Fatal(err)
		}
		cfg.Store = st
	}
	n, err := chat.New(cfg, func(h link.Handler) (link.Link, error) {
		ep, err := transport.New(conn, h, transport.Config{})
		if err != nil {
			return nil, err
		}
		return ep, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range n.Events() {
			if onEvent != nil {
				onEvent(ev)
			}
		}
		if st != nil {
			st.Close()
		}
	}()
	return n, done
}

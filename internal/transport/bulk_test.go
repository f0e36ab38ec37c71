package transport

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// A message goes before the bulk messages queued that have not begun to go,
// after those that have, and after every other message; the queue stays
// numbered in order.
func TestEnqueueOvertakesUnstartedBulk(t *testing.T) {
	p := &peer{}
	msg := func(name string, bulk bool) *outMessage {
		m := &outMessage{data: []byte(name), bulk: bulk, chunks: 1}
		p.enqueue(m)
		return m
	}
	b1 := msg("b1", true)
	msg("b2", true)
	msg("b3", true)
	b1.nextChunk = 1 // begun to go
	msg("n1", false)
	msg("n2", false)
	msg("b4", true)
	msg("n3", false)
	want := []string{"b1", "n1", "n2", "n3", "b2", "b3", "b4"}
	if p.queue.len() != len(want) {
		t.Fatalf("%d queued, want %d", p.queue.len(), len(want))
	}
	for i, w := range want {
		m := p.queue.at(i)
		if string(m.data) != w || m.seq != uint64(i) {
			t.Errorf("queue[%d] = %s seq %d, want %s seq %d", i, m.data, m.seq, w, i)
		}
	}
	if p.nextSeq != uint64(len(want)) {
		t.Errorf("nextSeq %d, want %d", p.nextSeq, len(want))
	}
}

// Over the network: lines sent after a file's blocks, while none of them
// has gone (the peer is not up yet), arrive first, in their order, and
// every block arrives after them, in its order.
func TestBulkYieldsToMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra, rb := transporttest.NewRecorder(), transporttest.NewRecorder()
		a := start(t, listen(t, n, addrA), ra, Config{})
		defer closeNow(a)
		const blocks = 20
		for i := range blocks {
			if _, err := a.SendBulk(addrB, transporttest.Message(1, i, 64<<10)); err != nil {
				t.Fatal(err)
			}
		}
		for _, line := range []string{"first line", "second line"} {
			if _, err := a.Send(addrB, []byte(line)); err != nil {
				t.Fatal(err)
			}
		}
		b := start(t, listen(t, n, addrB), rb, Config{})
		defer closeNow(b)
		rb.WaitFor(t, "everything at B", time.Hour, func() bool { return rb.Count(addrA) >= blocks+2 })
		got := rb.Received(addrA)
		if !bytes.Equal(got[0], []byte("first line")) || !bytes.Equal(got[1], []byte("second line")) {
			t.Fatalf("B got %.20q and %.20q first, want the two lines", got[0], got[1])
		}
		transporttest.CheckStream(t, got[2:], 1, blocks, func(int) int { return 64 << 10 })
	})
}

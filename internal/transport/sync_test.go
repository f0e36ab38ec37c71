package transport

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/transport/transporttest"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// syncingHandler holds what it receives until Sync, which moves it into
// the Recorder (what is durable) unless the disk "fails".
type syncingHandler struct {
	*transporttest.Recorder
	mu      sync.Mutex
	held    [][]byte
	failing bool
	syncs   int // that moved something
}

var _ link.Syncer = (*syncingHandler)(nil)

func (h *syncingHandler) Receive(_ netip.AddrPort, msg []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, bytes.Clone(msg))
	return nil
}

func (h *syncingHandler) Sync() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing {
		return errors.New("disk failed")
	}
	if len(h.held) > 0 {
		h.syncs++
	}
	for _, m := range h.held {
		h.Recorder.Receive(addrA, m)
	}
	h.held = nil
	return nil
}

func (h *syncingHandler) setFailing(f bool) {
	h.mu.Lock()
	h.failing = f
	h.mu.Unlock()
}

// What a Syncer takes counts as consumed, and the sender hears so, only
// once a Sync has succeeded: while it fails, the messages are held (not
// sent again, not lost) and nothing is reported delivered; once it works,
// all are, each stored once, in order. A burst sent at once shares Syncs.
func TestSyncBeforeConsumed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra := transporttest.NewRecorder()
		hb := &syncingHandler{Recorder: transporttest.NewRecorder(), failing: true}
		a := start(t, listen(t, n, addrA), ra, Config{})
		b := start(t, listen(t, n, addrB), hb, Config{})
		defer closeNow(a)
		defer closeNow(b)
		const count = 300
		var refs []uint64
		for i := range count {
			ref, err := a.Send(addrB, transporttest.Message(1, i, sizeOf(i)))
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		time.Sleep(5 * time.Second) // virtual: retransmission timers run out
		synctest.Wait()
		if d := ra.NumDelivered(); d != 0 {
			t.Fatalf("%d messages reported delivered while the receiver's Sync fails", d)
		}
		if b.Stats().SyncFailures == 0 {
			t.Error("no failed Sync counted")
		}
		hb.setFailing(false)
		ra.WaitFor(t, "deliveries once Sync works", time.Minute, func() bool { return ra.AllDelivered(refs) })
		transporttest.CheckStream(t, hb.Received(addrA), 1, count, sizeOf)
		hb.mu.Lock()
		syncs := hb.syncs
		hb.mu.Unlock()
		t.Logf("%d messages in %d syncs", count, syncs)
	})
}

// A burst sent at once is made durable in fewer Syncs than messages.
func TestSyncPerBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		ra := transporttest.NewRecorder()
		hb := &syncingHandler{Recorder: transporttest.NewRecorder()}
		a := start(t, listen(t, n, addrA), ra, Config{})
		b := start(t, listen(t, n, addrB), hb, Config{})
		defer closeNow(a)
		defer closeNow(b)
		const count = 1000
		var refs []uint64
		for i := range count {
			ref, err := a.Send(addrB, transporttest.Message(1, i, 60))
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		ra.WaitFor(t, "deliveries", time.Minute, func() bool { return ra.AllDelivered(refs) })
		transporttest.CheckStream(t, hb.Received(addrA), 1, count, func(int) int { return 60 })
		hb.mu.Lock()
		syncs := hb.syncs
		hb.mu.Unlock()
		if syncs*4 > count {
			t.Errorf("%d messages sent at once took %d syncs, want at most a quarter as many", count, syncs)
		}
		if s := b.Stats(); s.Syncs < uint64(syncs) || s.SyncFailures != 0 {
			t.Errorf("stats: %d syncs, %d failed; the handler saw %d", s.Syncs, s.SyncFailures, syncs)
		}
	})
}

package transport

import (
	"fmt"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// FuzzHandle gives arbitrary datagrams to both ends of a session that has a
// message in flight each way, as from the other end: raw bytes, or (framed)
// the fuzzer's frames behind a header with the session's epochs, so that
// they reach the frame handling (ACK ranges against what is in flight,
// chunks against the reassembly) and not only the header check. Whatever
// the bytes, nothing panics and the congestion state stays sane. (Whether
// the session still works after forged frames is the secure layer's
// business: nothing unauthenticated reaches the transport, which --plain
// does not use.) The path MTU search goes up to a few hundred bytes over
// the base only: a few probes, not the dozen a full search takes before
// each input.
var fuzzConfig = Config{MaxPathPacket: wire.MaxDatagram + 300}

func FuzzHandle(f *testing.F) {
	x := newBenchWith(f, false, 0, fuzzConfig)
	var b []byte
	f.Add(true, uint64(100), x.dataPacket(b, 100, 0, [][]byte{msg100})[wire.HeaderLen:])
	f.Add(true, uint64(100), x.ackPacket(b, 100, 0, 3, 1)[wire.HeaderLen:])
	f.Add(true, uint64(7), []byte{wire.FrameClose})
	f.Add(false, uint64(0), x.dataPacket(b, 100, 0, [][]byte{msg100}))
	f.Add(false, uint64(0), []byte{})
	f.Fuzz(func(t *testing.T, framed bool, pn uint64, data []byte) {
		// A loop that never ends would stall the fuzzer without a word;
		// this makes it a crash, with the input saved under testdata.
		watchdog := time.AfterFunc(10*time.Second, func() {
			panic(fmt.Sprintf("handling framed=%v pn=%d data=%x did not end", framed, pn, data))
		})
		defer watchdog.Stop()
		x := newBenchWith(t, false, 0, fuzzConfig)
		// A message in flight each way, so an ACK has something to
		// acknowledge and a chunk something to join.
		for _, e := range []*Endpoint{x.a, x.b} {
			to := addrB
			if e == x.b {
				to = addrA
			}
			if _, err := e.Send(to, msg100); err != nil {
				t.Fatal(err)
			}
			e.takeHandoffs()
			x.flush(e)
		}
		x.ta.n, x.tb.n = 0, 0 // those packets are lost
		feed := func(e, from *Endpoint) {
			d := data
			if framed {
				d = wire.AppendHeader(nil, wire.Header{SrcEpoch: from.epoch, DstEpoch: e.epoch, PacketNumber: pn})
				d = append(d, data...)
			}
			e.handle(d, from.conn.LocalAddr(), x.now)
			x.flush(e)
		}
		feed(x.a, x.b)
		feed(x.b, x.a)
		for _, p := range []*peer{x.peerA(), x.peerB()} {
			if p == nil {
				continue
			}
			if p.cc.bytesInFlight() < 0 || p.cc.cwnd() < minimumWindow {
				t.Fatalf("congestion state broken: in flight %d, window %d", p.cc.bytesInFlight(), p.cc.cwnd())
			}
		}
	})
}

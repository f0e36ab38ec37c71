package linktest

import (
	"net/netip"
	"testing"
)

var peer = netip.MustParseAddrPort("10.0.0.2:7475")

func TestTakeReturnsEachSendOnceAndSentAll(t *testing.T) {
	l := New(netip.MustParseAddrPort("10.0.0.1:7475"))
	msg := []byte("one")
	if ref, _ := l.Send(peer, msg); ref != 1 {
		t.Errorf("first ref %d, want 1", ref)
	}
	msg[0] = 'X' // the caller reuses its buffer
	if got := l.Take(); len(got) != 1 || string(got[0].Msg) != "one" || got[0].Peer != peer || got[0].Ref != 1 {
		t.Fatalf("Take = %+v, want the send of \"one\"", got)
	}
	l.Send(peer, []byte("two"))
	if got := l.Take(); len(got) != 1 || string(got[0].Msg) != "two" || got[0].Ref != 2 {
		t.Fatalf("second Take = %+v, want only the send of \"two\"", got)
	}
	if got := l.Sent(); len(got) != 2 {
		t.Fatalf("Sent = %+v, want both sends", got)
	}
}

// A test that reads Sent, never Sends, must not fill Sends and stop the
// sender.
func TestSentEmptiesSends(t *testing.T) {
	l := NewQueued(netip.MustParseAddrPort("10.0.0.1:7475"))
	for i := range 3 * queueSize {
		l.Send(peer, []byte{byte(i)})
		if i%queueSize == queueSize-1 {
			l.Sent()
		}
	}
	if got := len(l.Sent()); got != 3*queueSize {
		t.Errorf("Sent has %d sends, want %d", got, 3*queueSize)
	}
}

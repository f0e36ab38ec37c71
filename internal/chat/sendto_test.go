package chat

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

func TestSendToOnePeer(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	for _, p := range []netip.AddrPort{carol, bob} {
		if err := n.Connect(p); err != nil {
			t.Fatal(err)
		}
	}
	s, err := n.SendTo(carol, "psst")
	if err != nil {
		t.Fatal(err)
	}
	if s.To != carol || s.Text != "psst" || s.ID == (MessageID{}) {
		t.Fatalf("SendTo returned %+v", s)
	}
	wantEvents(t, n, Sent{ID: s.ID, To: carol, Text: "psst"})
	sends := link.takeSends()
	if len(sends) != 1 || sends[0].peer != carol {
		t.Fatalf("sends %+v, want one to carol", sends)
	}
	if m := parseSend(t, sends[0]); m.Kind != wire.ChatText || m.ID != s.ID || m.Text != "psst" {
		t.Errorf("payload %+v", m)
	}
	if u := n.Undelivered(); len(u) != 1 || u[0].To != carol {
		t.Fatalf("Undelivered = %+v, want the message to carol", u)
	}
	n.Delivered(carol, sends[0].ref)
	wantEvents(t, n, Delivered{ID: s.ID, To: carol})
	if err := n.WaitDelivered(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSendToRefuses(t *testing.T) {
	n, link := newFakeNode(t, Config{Name: "alice"})
	n.Connect(bob)
	if _, err := n.SendTo(carol, "hi"); err == nil || !strings.Contains(err.Error(), "not in the conversation") {
		t.Errorf("SendTo a stranger: %v", err)
	}
	if _, err := n.SendTo(bob, strings.Repeat("x", MaxTextLen+1)); err == nil {
		t.Error("SendTo took a message over MaxTextLen")
	}
	if s := link.takeSends(); len(s) != 0 {
		t.Errorf("refused sends reached the link: %+v", s)
	}
	n.Close(context.Background())
	if _, err := n.SendTo(bob, "hi"); !errors.Is(err, ErrClosed) {
		t.Errorf("SendTo after Close: %v, want ErrClosed", err)
	}
}

func TestPeerStatsWithoutStatsIsErrNoStats(t *testing.T) {
	n, _ := newFakeNode(t, Config{Name: "alice"})
	if _, err := n.PeerStats(context.Background()); !errors.Is(err, ErrNoStats) {
		t.Errorf("PeerStats on a link without numbers: %v, want ErrNoStats", err)
	}
}

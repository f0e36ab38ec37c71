package relaycluster

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/relaycluster/natstest"
	"github.com/udpchat/udpchat/internal/wire"
)

// TestMailboxesBoundsAndOwnership: the stream holds each recipient's mail
// in order, refuses a put over the recipient's bound (nothing held pushed
// out), deletes only on its recipient's ack, and takes a resent put once.
func TestMailboxesBoundsAndOwnership(t *testing.T) {
	nc, err := nats.Connect(natstest.Start(t).ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mail, err := OpenMailboxes(ctx, MailConfig{Conn: nc, MaxPer: 2, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	bob, carol := newKey(t).Public(), newKey(t).Public()
	now := time.Now()
	put := func(to [32]byte, blob string) (uint64, uint8) {
		t.Helper()
		id, status, err := mail.Put(ctx, to, []byte(blob), now)
		if err != nil {
			t.Fatalf("Put %q: %v", blob, err)
		}
		return id, status
	}
	first, _ := put(bob, "one")
	if again, status := put(bob, "one"); status != wire.MailStored || again != first {
		t.Errorf("the resent put: id %d, status %d; want the first's %d, stored", again, status, first)
	}
	put(bob, "two")
	if _, status := put(bob, "three"); status != wire.MailBoxFull {
		t.Errorf("a third put for bob (bound 2): status %d, want mailbox full", status)
	}
	if _, status := put(carol, "for carol"); status != wire.MailStored {
		t.Errorf("carol's mailbox is her own: status %d", status)
	}
	got, err := mail.Fetch(ctx, bob, now, relay.MailPerFetch)
	if err != nil || len(got) != 2 || string(got[0].Blob) != "one" || string(got[1].Blob) != "two" {
		t.Fatalf("bob's mail %+v, %v; want one, two", got, err)
	}
	if ok, err := mail.Ack(ctx, carol, got[0].ID); err != nil || ok {
		t.Errorf("carol acked bob's mail: %v, %v", ok, err)
	}
	if ok, err := mail.Ack(ctx, bob, got[0].ID); err != nil || !ok {
		t.Errorf("bob's ack: %v, %v", ok, err)
	}
	if ok, err := mail.Ack(ctx, bob, got[0].ID); err != nil || ok {
		t.Errorf("bob's second ack of one mail: %v, %v; want nothing deleted", ok, err)
	}
	if n, err := mail.Len(ctx); err != nil || n != 2 {
		t.Errorf("%d mails held, %v; want bob's second and carol's", n, err)
	}
	if left, err := mail.Fetch(ctx, bob, now.Add(2*time.Hour), relay.MailPerFetch); err != nil || len(left) != 0 {
		t.Errorf("past MaxAge bob is handed %d mails, %v", len(left), err)
	}
}

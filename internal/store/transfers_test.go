package store

import (
	"testing"
	"time"
)

// A transfer is one row from its offer to its end: its state moves on, its
// start stays, and what a later update leaves empty (the peer's name, the
// path) is kept; history's filters select transfers as they do messages.
func TestTransfersLifecycle(t *testing.T) {
	ctx := t.Context()
	s := openT(t, t.TempDir())
	bob := testKey(2)
	sent := Transfer{ID: testID(1), Outgoing: true, Peer: "127.0.0.1:9002", Person: bob, PeerName: "bob",
		Name: "photo.jpg", Size: 3 << 20, State: TransferOffered, At: t0, UpdatedAt: t0}
	if err := s.PutTransfer(ctx, sent); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Minute)
	if err := s.PutTransfer(ctx, Transfer{ID: testID(1), Outgoing: true, Peer: "127.0.0.1:9002", Name: "photo.jpg",
		Size: 3 << 20, State: TransferDone, At: later, UpdatedAt: later}); err != nil {
		t.Fatal(err)
	}
	got := Transfer{ID: testID(3), Peer: "127.0.0.1:9003", PeerName: "carol", Name: "notes.txt", Size: 12,
		State: TransferFailed, Error: "a block did not match the offer", At: later, UpdatedAt: later}
	if err := s.PutTransfer(ctx, got); err != nil {
		t.Fatal(err)
	}

	all, err := s.Transfers(ctx, Query{})
	if err != nil || len(all) != 2 {
		t.Fatalf("Transfers: %d, %v; want 2", len(all), err)
	}
	want := sent
	want.State, want.UpdatedAt = TransferDone, later
	if !all[0].At.Equal(want.At) || !all[0].UpdatedAt.Equal(later) {
		t.Errorf("times %v, %v; want the offer's %v and the update's %v", all[0].At, all[0].UpdatedAt, t0, later)
	}
	all[0].At, all[0].UpdatedAt, want.At, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if all[0] != want {
		t.Errorf("the sent file after its update:\n got %+v\nwant %+v", all[0], want)
	}
	if all[1].Name != "notes.txt" || all[1].Outgoing || all[1].State != TransferFailed || all[1].Error == "" {
		t.Errorf("the received file: %+v", all[1])
	}

	for _, c := range []struct {
		name string
		q    Query
		want []string
	}{
		{"by person", Query{People: [][32]byte{bob}}, []string{"photo.jpg"}},
		{"by address", Query{Peers: []string{"127.0.0.1:9003"}}, []string{"notes.txt"}},
		{"by name", Query{Search: "NOTES"}, []string{"notes.txt"}},
		{"since", Query{Since: later}, []string{"notes.txt"}},
		{"newest", Query{Limit: 1}, []string{"notes.txt"}},
	} {
		ts, err := s.Transfers(ctx, c.q)
		var names []string
		for _, tr := range ts {
			names = append(names, tr.Name)
		}
		if err != nil || len(names) != len(c.want) || (len(names) > 0 && names[0] != c.want[0]) {
			t.Errorf("%s: %v, %v; want %v", c.name, names, err, c.want)
		}
	}
}
